"""``OPENMEM_DATA_DIR`` and ``data_dir=`` mean one thing: a root with a folder per provider."""

from __future__ import annotations

from pathlib import Path

import pytest
from openmem_mem0 import Mem0Provider
from openmem_postgres.embedded import EmbeddedPostgres
from openmem_powermem import PowermemProvider

from openmem.environment import data_root
from openmem.server.settings import default_data_dir as server_data_dir


def test_every_provider_keeps_its_own_folder_under_the_environment_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMEM_DATA_DIR", str(tmp_path))
    assert data_root() == tmp_path
    assert Mem0Provider().options.resolved_data_dir() == tmp_path / "mem0"
    assert PowermemProvider().options.resolved_data_dir() == tmp_path / "powermem"
    assert EmbeddedPostgres.for_data_dir(None).pgdata == (tmp_path / "postgres").resolve()
    assert server_data_dir() == tmp_path


def test_the_data_dir_option_is_the_same_kind_of_root(tmp_path: Path) -> None:
    root = tmp_path / "app"
    assert Mem0Provider(data_dir=str(root)).options.resolved_data_dir() == root / "mem0"
    assert PowermemProvider(data_dir=str(root)).options.resolved_data_dir() == root / "powermem"
    assert EmbeddedPostgres.for_data_dir(root).pgdata == (root / "postgres").resolve()
