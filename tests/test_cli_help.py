"""``openmem --help`` stays light, and every option of every command explains itself.

The start-up time itself is measured side by side with bare Python in
``benchmarks/cli_startup.py`` (not here: timings in unit tests are flaky on a loaded machine).
"""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from openmem.cli import main


def test_help_loads_neither_the_memory_layer_nor_any_plugin() -> None:
    code = (
        "import sys; from openmem.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "{'pydantic', 'asyncio', 'openmem_postgres', 'openmem_conformance', 'fastapi', 'rich'}"
        " or m in {'openmem.memory', 'openmem.server.commands'}]\n"
        "print(','.join(sorted(heavy)), file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "Commands:" in result.stdout
    assert result.stderr.strip() == ""


def test_help_lists_the_plugin_commands_with_their_distribution() -> None:
    output = CliRunner().invoke(main, ["--help"]).output
    assert "serve" in output
    assert "reembed      (from openmem-postgres)" in output


def _commands(
    group: click.Group, context: click.Context, path: str
) -> list[tuple[str, click.Command]]:
    """Every command under ``group``, subcommands of nested groups (``keys create``) included."""
    found = []
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, f"{path} {name}"
        found.append((f"{path} {name}", command))
        if isinstance(command, click.Group):
            found += _commands(command, click.Context(command, parent=context), f"{path} {name}")
    return found


def test_every_option_of_every_command_and_subcommand_has_help_text() -> None:
    commands = _commands(main, click.Context(main), "openmem")
    assert "openmem keys create" in dict(commands)  # nested groups are walked
    missing = [
        f"{path} {param.opts[0]}"
        for path, command in commands
        for param in command.params
        if isinstance(param, click.Option) and not param.help
    ]
    assert missing == []


def test_the_options_listing_named_by_configuration_errors_exists() -> None:
    result = CliRunner().invoke(main, ["providers", "--options"])
    assert result.exit_code == 0, result.output
    assert "OPENMEM_NAMESPACE" in result.output
    assert "OPENMEM_EMBEDDER" in result.output
