"""Process settings mem0 reads at import time, fixed before it is imported."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["prepare_mem0_environment"]


def prepare_mem0_environment(data_dir: Path) -> None:
    """Turn mem0's telemetry off and keep its home directory under ``data_dir``.

    With telemetry on and no network, mem0 fetches a remote notice and PostHog retries
    its flush at exit: seconds of stall (peers.md §1.5). ``MEM0_DIR`` is read once, at
    import, and holds mem0's ``config.json``; the first provider of a process sets it
    unless the application already did.
    """
    os.environ["MEM0_TELEMETRY"] = "False"
    if "MEM0_DIR" not in os.environ:
        home = data_dir / "mem0-home"
        home.mkdir(parents=True, exist_ok=True)
        os.environ["MEM0_DIR"] = str(home)
    # mem0 may have been imported already (by the application) with telemetry on.
    for name in ("mem0.memory.telemetry", "mem0.memory.main"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "MEM0_TELEMETRY", False):
            module.MEM0_TELEMETRY = False  # type: ignore[attr-defined]
