"""Cancellation of a passthrough verb over a real socket: prompt, and the pool stays usable.

The budget is the native tier's contract: ``CancelledError`` reaches the awaiter within 3 ms
at the 99th percentile (2 cores). The server is `openmem serve`'s app under uvicorn in a
separate process (so it does not compete for this process's GIL) over a provider whose
search never answers; each sample is cancelled at a random moment of the exchange
(connecting, sending, or waiting for the answer).

The machine running the tests is shared (2 cores, other suites in parallel), so the p99 is
judged against the budget plus the machine's own wake-up noise, measured in this very test
right after every sample (the conformance suite's ``wakeup_noise_ms``: a bare cancel and a
1 ms sleep's late wake-up), as the conformance cancellation checks do. On a quiet machine the
noise is a fraction of a millisecond and the budget is the contract's 3 ms; under load both
the samples and the noise grow, and only what the code adds beyond the noise is judged. A
sample during which the OS preempted this thread (an involuntary context switch, from
``getrusage``) measures the machine, not the code: such samples are counted and reported but
left out of the p99; voluntary waits (the loop waiting for I/O) stay in. Sampling goes on
until 200 clean samples are in (at most 3000 in all). benchmarks/postgres_cancel.py measures
the quiet-machine figure side by side with the reference SDK.
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
from openmem_conformance.checks.cancel_timing import p99 as nearest_rank_p99
from openmem_conformance.checks.cancel_timing import wakeup_noise_ms

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
    noise: list[float] = []
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
            if _involuntary_switches() > switches:
                preempted.append(elapsed)
            else:
                clean.append(elapsed)
                noise.append(await wakeup_noise_ms())
        assert await provider.search(caller, fast) == []  # the pool is still usable
    finally:
        await provider.close()
    assert len(clean) >= CLEAN_SAMPLES, f"only {len(clean)} unpreempted samples"
    p99 = nearest_rank_p99(clean)
    noise_p99 = nearest_rank_p99(noise)
    print(
        f"passthrough cancellation: p50 {statistics.median(clean):.3f} ms, p99 {p99:.3f} ms "
        f"over {len(clean)} samples, wake-up noise p99 {noise_p99:.3f} ms "
        f"({len(preempted)} preempted samples left out, max {max(preempted, default=0):.1f} ms)"
    )
    assert p99 <= BUDGET_P99_MS + noise_p99, (
        f"p99 {p99:.2f} ms over {len(clean)} samples: more than the {BUDGET_P99_MS:g} ms "
        f"budget over the machine's wake-up noise of {noise_p99:.2f} ms (p99)"
    )
    assert max(preempted, default=0) < 1000, "a cancellation took a second: not preemption"


def _involuntary_switches() -> int:
    return resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw
