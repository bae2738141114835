"""Cancellation of a passthrough verb over a real socket: prompt, and the pool stays usable.

The budget is the native tier's contract: ``CancelledError`` reaches the awaiter within 3 ms
at the 99th percentile (2 cores). The server is `openmem serve`'s app under uvicorn in a
separate process (so it does not compete for this process's GIL) over a provider whose
search never answers; each sample is cancelled at a random moment of the exchange
(connecting, sending, or waiting for the answer).

The machine running the tests is shared (2 cores, other suites in parallel): a sample during
which the OS preempted this thread (an involuntary context switch, from ``getrusage``)
measures the machine, not the code. Such samples are counted and reported but left out of
the p99; voluntary waits (the loop waiting for I/O) stay in. Sampling goes on until 200
clean samples are in (at most 3000 in all).
"""

from __future__ import annotations

import asyncio
import random
import resource
import statistics
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from openmem.models import SearchQuery
from openmem.passthrough import PassthroughProvider
from openmem.provider import Caller

from .server.conftest import free_port
from .server.serve_process import serving

CLEAN_SAMPLES = 200
MAX_SAMPLES = 3000
BUDGET_P99_MS = 3.0

_SERVER = textwrap.dedent(
    """
    import asyncio, sys
    import uvicorn
    from openmem.inmemory import InMemoryProvider
    from openmem.server import ServerSettings, create_app

    class NeverAnswers(InMemoryProvider):
        async def search(self, caller, query):
            if query.query == "fast":
                return []
            await asyncio.sleep(60)
            return []

    app = create_app(ServerSettings(auth=False), provider=NeverAnswers())
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
    """
)


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a server in another process whose searches never answer."""
    script = Path(tmp_path_factory.mktemp("slow")) / "server.py"
    script.write_text(_SERVER)
    port = free_port()
    command = [sys.executable, str(script), str(port)]
    with serving(command, port, name="the slow server", start_timeout=20) as url:
        yield url


async def test_cancellation_reaches_the_awaiter_within_3ms_p99(slow_server: str) -> None:
    caller = Caller(namespace="default", user_id="u1")
    slow, fast = SearchQuery(query="slow"), SearchQuery(query="fast")
    rng = random.Random(7)
    provider = PassthroughProvider(base_url=slow_server, retries=0, timeout=30)
    await provider.open()
    clean: list[float] = []
    preempted: list[float] = []
    try:
        while len(clean) < CLEAN_SAMPLES and len(clean) + len(preempted) < MAX_SAMPLES:
            task = asyncio.create_task(provider.search(caller, slow))
            await asyncio.sleep(rng.uniform(0, 0.004))
            switches = _involuntary_switches()
            started = time.perf_counter()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 5)
            elapsed = (time.perf_counter() - started) * 1000
            (preempted if _involuntary_switches() > switches else clean).append(elapsed)
        assert await provider.search(caller, fast) == []  # the pool is still usable
    finally:
        await provider.close()
    assert len(clean) >= CLEAN_SAMPLES, f"only {len(clean)} unpreempted samples"
    p99 = statistics.quantiles(clean, n=100)[98]
    print(
        f"passthrough cancellation: p50 {statistics.median(clean):.3f} ms, p99 {p99:.3f} ms "
        f"over {len(clean)} samples ({len(preempted)} preempted samples left out, "
        f"max {max(preempted, default=0):.1f} ms)"
    )
    assert p99 <= BUDGET_P99_MS, f"p99 {p99:.2f} ms over {len(clean)} samples"
    assert max(preempted, default=0) < 1000, "a cancellation took a second: not preemption"


def _involuntary_switches() -> int:
    return resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw
