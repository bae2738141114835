"""With no URL: an embedded PostgreSQL in the data dir, shared by processes, stopped cleanly."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from pathlib import Path

import pytest
from openmem_postgres import PostgresProvider
from openmem_postgres.embedded import EmbeddedPostgres

from openmem import AsyncMemory
from openmem.models import MemoryInput, SearchQuery
from openmem.provider import Caller


def postmaster_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "postgres" / "postmaster.pid"
    if not pid_file.exists():
        return None
    return int(pid_file.read_text().splitlines()[0])


def running(data_dir: Path) -> bool:
    """Whether a postmaster serves ``data_dir`` (its pid file is removed when it stops)."""
    pid = postmaster_pid(data_dir)
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


SECOND_PROCESS = textwrap.dedent(
    """
    import asyncio, sys
    from openmem.models import MemoryInput
    from openmem.provider import Caller
    from openmem_postgres import PostgresProvider

    async def main():
        provider = PostgresProvider(data_dir=sys.argv[1])
        await provider.open()
        try:
            await provider.add(Caller("ns", "bob"), MemoryInput(content="from process two",
                               user_id="bob"))
        finally:
            await provider.close()

    asyncio.run(main())
    """
)


async def test_no_url_runs_an_embedded_server_shared_with_other_processes(
    tmp_path: Path,
) -> None:
    provider = PostgresProvider(data_dir=tmp_path)
    await provider.open()
    try:
        pid = postmaster_pid(tmp_path)
        assert running(tmp_path)
        caller = Caller("ns", "alice")
        await provider.add(caller, _input("stored in the embedded server"))
        # Another process reuses the running server and, leaving, does not stop it.
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SECOND_PROCESS,
            str(tmp_path),
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(child.communicate(), timeout=120)
        assert child.returncode == 0, stderr.decode()
        assert postmaster_pid(tmp_path) == pid
        assert running(tmp_path)
        hits = await provider.search(Caller("ns", "bob"), SearchQuery(query="process two"))
        assert [h.memory.content for h in hits] == ["from process two"]
    finally:
        await provider.close()
    assert not running(tmp_path)


async def test_providers_in_one_process_share_the_server_until_the_last_closes(
    tmp_path: Path,
) -> None:
    first = PostgresProvider(data_dir=tmp_path)
    second = PostgresProvider(data_dir=tmp_path)
    await first.open()
    await second.open()
    await first.close()
    assert running(tmp_path)
    await second.close()
    assert not running(tmp_path)
    assert EmbeddedPostgres.for_data_dir(tmp_path)._users == 0


async def test_asyncmemory_with_no_arguments_uses_the_embedded_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMEM_DATA_DIR", str(tmp_path))
    async with AsyncMemory() as mem:
        assert isinstance(mem.provider, PostgresProvider)
        added = await mem.add("prefers dark mode", user_id="u1", scope="ui")
        hits = await mem.search("dark mode", "u1")
        assert hits[0].memory.id == added.id
        block = await mem.context("dark mode", "u1", token_budget=50)
        assert block.citations[0].memory_id == added.id
        page = await mem.list("u1")
        assert [r.id for r in page.items] == [added.id]
        updated = await mem.update(added.id, user_id="u1", tags=["ui"])
        assert updated.tags == ["ui"]
        await mem.delete(added.id, user_id="u1")
        actions = [e.action for e in await mem.audit("u1")]
        assert actions[0] == "delete"
        assert "add" in actions
    assert (tmp_path / "postgres" / "PG_VERSION").exists()


def _input(content: str) -> MemoryInput:
    return MemoryInput(content=content, user_id="alice")
