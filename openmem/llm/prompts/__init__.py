"""The prompts of the infer pipeline, kept as versioned files next to this module.

A prompt file is ``<name>.v<N>.md``. A changed prompt is a new file with the next version,
never an edit of a released one: the version is recorded on every memory the pipeline
writes, so a memory can always be traced to the exact instructions that produced it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["Prompt", "latest_prompt", "load_prompt"]

_FILE = re.compile(r"^(?P<name>[a-z_]+)\.v(?P<version>\d+)\.md$")


@dataclass(frozen=True)
class Prompt:
    """One prompt: its name, its version and its text."""

    name: str
    version: int
    text: str

    @property
    def label(self) -> str:
        """``name.vN``: how the prompt is recorded on memories and in the audit log."""
        return f"{self.name}.v{self.version}"


@cache
def load_prompt(name: str, version: int) -> Prompt:
    """The prompt ``name`` at ``version``; ``LookupError`` when there is no such file."""
    path = resources.files(__package__).joinpath(f"{name}.v{version}.md")
    if not path.is_file():
        raise LookupError(f"no prompt {name!r} version {version}")
    return Prompt(name, version, path.read_text(encoding="utf-8"))


def latest_prompt(name: str) -> Prompt:
    """The highest version of the prompt ``name``."""
    versions = [
        int(m["version"])
        for entry in resources.files(__package__).iterdir()
        if (m := _FILE.match(entry.name)) and m["name"] == name
    ]
    if not versions:
        raise LookupError(f"no prompt {name!r}")
    return load_prompt(name, max(versions))
