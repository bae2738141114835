"""The registry's install hints name only extras that ``pyproject.toml`` really offers."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from openmem import registry

ROOT = Path(__file__).resolve().parents[1]


def _extras() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]
    return extras


def test_every_install_hint_is_an_extra_that_installs_that_provider() -> None:
    extras = _extras()
    for name, hint in registry._EXTRAS.items():
        match = re.fullmatch(r"openmem\[([a-z0-9-]+)\]", hint)
        assert match, f"hint for {name!r} is not an openmem extra: {hint!r}"
        extra = match.group(1)
        assert extra in extras, f"{hint} is suggested but pyproject.toml has no such extra"
        assert f"openmem-{name}" in extras[extra], f"{hint} does not install openmem-{name}"


def test_the_all_extra_includes_every_provider_extra() -> None:
    everything = " ".join(_extras()["all"])
    for name in registry._EXTRAS:
        assert re.search(rf"[\[,]{name}[,\]]", everything), f"openmem[all] lacks {name}"


def test_every_provider_distribution_in_the_workspace_has_a_hint() -> None:
    names = {p.name for p in (ROOT / "providers").iterdir() if (p / "pyproject.toml").exists()}
    assert names <= set(registry._EXTRAS), names - set(registry._EXTRAS)
