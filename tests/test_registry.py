"""The registry's install hints name only extras that ``pyproject.toml`` really offers."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from openmem import registry
from openmem.distribution import install_command

ROOT = Path(__file__).resolve().parents[1]


def _extras() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]
    return extras


def test_every_install_hint_is_an_extra_that_installs_that_provider() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = _extras()
    for name in registry._EXTRAS:
        hint = install_command(name)
        assert hint == f"pip install '{project['name']}[{name}]'", hint
        assert name in extras, f"{hint} is suggested but pyproject.toml has no such extra"
        assert f"openmem-{name}" in extras[name], f"{hint} does not install openmem-{name}"


def test_the_all_extra_includes_every_provider_extra() -> None:
    everything = " ".join(_extras()["all"])
    for name in registry._EXTRAS:
        assert re.search(rf"[\[,]{name}[,\]]", everything), f"the all extra lacks {name}"


def test_every_provider_distribution_in_the_workspace_has_a_hint() -> None:
    names = {p.name for p in (ROOT / "providers").iterdir() if (p / "pyproject.toml").exists()}
    assert names <= set(registry._EXTRAS), names - set(registry._EXTRAS)
