"""A process killed with SIGKILL right after acknowledging async adds loses none of them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import textwrap
from pathlib import Path

from openmem_postgres import PostgresProvider

from openmem import AsyncMemory

ADDS = 1000

# The child acknowledges ADDS async adds (its own workers already draining the queue, with
# a short lease), writes the acknowledged ids, says so, and waits to be killed.
_CHILD = textwrap.dedent(
    """
    import asyncio, json, os, sys
    from openmem import AsyncMemory

    async def main() -> None:
        async with AsyncMemory(
            provider="postgres", url=os.environ["PG_URL"], embedder="hashing",
            namespace=os.environ["PG_NS"], ingest_workers=2, ingest_lease=1.0,
            ingest_poll_interval=0.05, pool_max_size=4,
        ) as mem:
            acked = []
            for start in range(0, ADDS, 50):
                records = await asyncio.gather(*(
                    mem.add(f"memory {n}", user_id="alice", async_mode=True)
                    for n in range(start, start + 50)
                ))
                acked.extend((r.id, r.event_id, r.content) for r in records)
            with open(os.environ["ACKED"], "w") as out:
                json.dump(acked, out)
            print("ACKED", flush=True)
            await asyncio.sleep(3600)

    asyncio.run(main())
    """
).replace("ADDS", str(ADDS))


async def test_sigkill_after_acknowledged_async_adds_loses_none(
    postgres_url: str, pg_namespace: str, tmp_path: Path
) -> None:
    acked_file = tmp_path / "acked.json"
    env = {**os.environ, "PG_URL": postgres_url, "PG_NS": pg_namespace, "ACKED": str(acked_file)}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, env=env, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 300)
        assert line.strip() == b"ACKED", line
        child.send_signal(signal.SIGKILL)
    finally:
        if child.returncode is None:
            child.kill()
        await child.wait()
    assert child.returncode == -signal.SIGKILL
    acked = json.loads(acked_file.read_text())
    assert len(acked) == ADDS

    async with AsyncMemory(
        provider="postgres",
        url=postgres_url,
        embedder="hashing",
        namespace=pg_namespace,
        ingest_workers=2,
        ingest_lease=1.0,
        ingest_poll_interval=0.05,
        pool_max_size=4,
    ) as mem:
        provider = mem.provider
        assert isinstance(provider, PostgresProvider)
        unfinished = await provider.runner.fetchval(
            "SELECT count(*) FROM openmem.ingest_events"
            " WHERE namespace = $1 AND status <> 'SUCCEEDED'",
            pg_namespace,
        )
        assert unfinished > 0, "the kill came after the child had drained everything"
        stored = await mem.wait_for_ingest(
            [event for _, event, _ in acked], user_id="alice", timeout=180
        )
        assert [(r.id, r.content) for r in stored] == [(i, c) for i, _, c in acked]
        rows = await provider.runner.fetch(
            "SELECT status, count(*) AS n FROM openmem.ingest_events"
            " WHERE namespace = $1 GROUP BY status",
            pg_namespace,
        )
        assert {r["status"]: r["n"] for r in rows} == {"SUCCEEDED": ADDS}
        memories = await provider.runner.fetchval(
            "SELECT count(*) FROM openmem.memories WHERE namespace = $1", pg_namespace
        )
        adds_audited = await provider.runner.fetchval(
            "SELECT count(*) FROM openmem.audit WHERE namespace = $1 AND action = 'add'",
            pg_namespace,
        )
        assert (memories, adds_audited) == (ADDS, ADDS)  # each exactly once
