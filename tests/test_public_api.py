"""The public surface: what ``import openmem`` gives, and what it must not drag in."""

from __future__ import annotations

import subprocess
import sys

import openmem


def test_every_exported_name_exists() -> None:
    for name in openmem.__all__:
        assert hasattr(openmem, name), name


def test_importing_openmem_loads_no_provider_no_server_and_no_driver() -> None:
    code = (
        "import sys, openmem; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "{'openmem_postgres', 'openmem_mem0', 'openmem_powermem', 'asyncpg', 'fastapi', "
        "'uvicorn', 'mem0', 'powermem', 'torch', 'sentence_transformers'} "
        "or m.startswith('openmem.server')]; "
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_core_source_imports_no_provider_package() -> None:
    from pathlib import Path

    root = Path(openmem.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for provider in ("openmem_postgres", "openmem_mem0", "openmem_powermem"):
            assert f"import {provider}" not in text, path
            assert f"from {provider}" not in text, path
