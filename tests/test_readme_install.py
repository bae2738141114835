"""The README's install section names only distributions of this workspace."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _workspace_distributions() -> set[str]:
    names = set()
    for pyproject in [ROOT / "pyproject.toml", *ROOT.glob("providers/*/pyproject.toml")]:
        names.add(tomllib.loads(pyproject.read_text())["project"]["name"])
    names.add(tomllib.loads((ROOT / "conformance/pyproject.toml").read_text())["project"]["name"])
    return names


def test_every_install_line_names_our_distribution_or_a_local_path() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Install", 1)[1].split("\n## ", 1)[0]
    ours = _workspace_distributions()
    lines = [line for line in section.splitlines() if line.startswith("pip install")]
    assert lines
    for line in lines:
        for target in line.split("#")[0].split()[2:]:
            target = target.strip("'\"")
            if target.startswith((".", "dist/")):
                wheel = re.match(r"dist/([a-z_]+)-", target)
                if wheel:
                    assert wheel.group(1).replace("_", "-") in ours, line
                continue
            assert re.sub(r"\[.*\]$", "", target) in ours, line
    assert "openmem-layer" in section
    # The extras the section mentions exist.
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for extra in ("server", "local", "otel", "conformance"):
        assert extra in extras["optional-dependencies"]


def test_a_built_wheel_is_named_as_the_readme_says() -> None:
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"] == (
        "openmem-layer"
    )
