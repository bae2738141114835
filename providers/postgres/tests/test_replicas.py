"""Replicas that share nothing but PostgreSQL: two ``openmem serve`` processes and two
``openmem worker`` processes on one database.

500 async adds spread over both replicas end ``SUCCEEDED`` exactly once, and a key
created or revoked through replica A is honoured or refused by replica B within a second.
500 keep four workers in two processes claiming from one queue at once (32 adds in flight,
claims every 50 ms) for seconds, which is what exactly-once needs; 2,000 cost four times as
long and proved nothing more (benchmarks/async_ingest.py measures throughput).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from openmem_postgres import PostgresProvider

ADDS = 500


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _spawn(args: list[str], env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "openmem.cli", *args, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture
async def cluster(
    postgres_url: str, pg_namespace: str, tmp_path: Path
) -> AsyncIterator[tuple[list[str], str, PostgresProvider]]:
    """Two replicas (URLs), an admin key, and a provider for looking at the database."""
    provider = PostgresProvider(
        embedder="hashing", url=postgres_url, ingest_workers=0, pool_max_size=3
    )
    await provider.open()
    admin, _ = await (await provider.open_shared_keys()).create_key(namespace=pg_namespace)
    env = {
        **os.environ,
        "OPENMEM_DATA_DIR": str(tmp_path),
        "OPENMEM_SERVER_KEY_BACKEND": "database",
        "OPENMEM_PROGRESS": "never",
    }
    common = ["-o", f"url={postgres_url}", "-o", "embedder=hashing"]
    ports = [_free_port(), _free_port()]
    processes = [
        await _spawn(
            [
                "serve",
                "--provider",
                "postgres",
                "--port",
                str(port),
                *common,
                "-o",
                "ingest_workers=0",
                "-o",
                "pool_max_size=4",
            ],
            env,
        )
        for port in ports
    ]
    processes += [
        await _spawn(
            [
                "worker",
                "--url",
                postgres_url,
                "--workers",
                "2",
                "-o",
                "embedder=hashing",
                "-o",
                "ingest_poll_interval=0.05",
                "-o",
                "pool_max_size=3",
            ],
            env,
        )
        for _ in range(2)
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        async with httpx.AsyncClient() as client:
            for url in urls:
                for _ in range(600):
                    try:
                        if (await client.get(f"{url}/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert all(p.returncode is None for p in processes), "a process exited"
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError(f"{url} did not start")
        yield urls, admin, provider
    finally:
        for proc in processes:
            if proc.returncode is None:
                proc.terminate()
        for proc in processes:
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
        await provider.close()


async def test_two_replicas_and_two_workers_share_the_queue_and_the_keys(
    cluster: tuple[list[str], str, PostgresProvider], pg_namespace: str
) -> None:
    urls, admin, provider = cluster
    headers = {"authorization": f"Bearer {admin}"}
    limit = asyncio.Semaphore(32)
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:

        async def add(n: int) -> str:
            async with limit:
                answer = await client.post(
                    f"{urls[n % 2]}/memories",
                    params={"async_mode": "true"},
                    json={"content": f"memory {n}", "user_id": f"user-{n % 7}"},
                )
            assert answer.status_code == 202, answer.text
            event_id: str = answer.json()["event_id"]
            return event_id

        events = await asyncio.gather(*(add(n) for n in range(ADDS)))
    assert len(set(events)) == ADDS
    counts: dict[str, int] = {}
    for _ in range(2400):
        rows = await provider.runner.fetch(
            "SELECT status, count(*) AS n FROM openmem.ingest_events WHERE namespace = $1"
            " GROUP BY status",
            pg_namespace,
        )
        counts = {r["status"]: r["n"] for r in rows}
        if counts.get("SUCCEEDED") == ADDS:
            break
        await asyncio.sleep(0.1)
    assert counts == {"SUCCEEDED": ADDS}
    memories, contents, audited = await provider.runner.fetchrow(
        "SELECT count(*), count(DISTINCT content),"
        " (SELECT count(*) FROM openmem.audit WHERE namespace = $1 AND action = 'add')"
        " FROM openmem.memories WHERE namespace = $1",
        pg_namespace,
    )
    assert (memories, contents, audited) == (ADDS, ADDS, ADDS)
    # The same replicas (started once: four processes cost seconds): keys.
    await _key_created_and_revoked_through_a_reaches_b(urls, admin)


async def _seconds_until(client: httpx.AsyncClient, url: str, key: str, status: int) -> float:
    start = time.perf_counter()
    while True:
        answer = await client.get(
            f"{url}/memories", params={"user_id": "ann"}, headers={"x-api-key": key}
        )
        if answer.status_code == status:
            return time.perf_counter() - start
        assert time.perf_counter() - start < 10, f"still {answer.status_code} after 10 s"
        await asyncio.sleep(0.02)


async def _key_created_and_revoked_through_a_reaches_b(urls: list[str], admin: str) -> None:
    a, b = urls
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {admin}"}) as client:
        created = await client.post(f"{a}/keys", json={"label": "replica test"})
        assert created.status_code == 201, created.text
        key, key_id = created.json()["key"], created.json()["key_id"]
        async with httpx.AsyncClient() as probe:  # the new key only, no admin header
            accepted_after = await _seconds_until(probe, b, key, 200)
            revoked = await client.delete(f"{a}/keys/{key_id}")
            assert revoked.status_code == 204
            refused_after = await _seconds_until(probe, b, key, 401)
    assert accepted_after < 1.0, f"replica B accepted the new key after {accepted_after:.2f} s"
    assert refused_after < 1.0, f"replica B refused the revoked key after {refused_after:.2f} s"
