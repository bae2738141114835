"""The thread tier's machinery: bounded, cancellable, counted worker threads."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable

import pytest

from openmem.errors import ClosedError, ProviderSaturatedError
from openmem.offload import Offloader

WAIT = 5.0  # every wait in these tests is bounded; a hang fails


async def _until(predicate: Callable[[], bool], within: float = WAIT) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


@pytest.fixture
async def offload() -> AsyncIterator[Offloader]:
    off = Offloader("test", max_workers=4, max_abandoned=8)
    yield off
    await off.aclose(grace=WAIT)


async def test_run_returns_the_result_of_the_call(offload: Offloader) -> None:
    assert await offload.run(lambda a, b: a + b, 2, 3) == 5


async def test_run_raises_the_exception_of_the_call(offload: Offloader) -> None:
    def boom() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        await offload.run(boom)


async def test_calls_run_on_the_providers_own_named_threads(offload: Offloader) -> None:
    name = await offload.run(lambda: threading.current_thread().name)
    assert name.startswith("openmem-test")


async def test_at_most_max_workers_calls_run_at_once() -> None:
    off = Offloader("bound", max_workers=3, max_abandoned=4)
    peak = 0
    now = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal peak, now
        with guard:
            now += 1
            peak = max(peak, now)
        time.sleep(0.01)
        with guard:
            now -= 1

    await asyncio.wait_for(asyncio.gather(*(off.run(work) for _ in range(20))), WAIT)
    await off.aclose()
    assert peak == 3


async def test_serialize_runs_one_call_at_a_time() -> None:
    off = Offloader("serial", max_workers=4, max_abandoned=4, serialize=True)
    overlaps = 0
    busy = threading.Lock()

    def work() -> None:
        nonlocal overlaps
        if not busy.acquire(blocking=False):
            overlaps += 1
            return
        time.sleep(0.002)
        busy.release()

    await asyncio.wait_for(asyncio.gather(*(off.run(work) for _ in range(20))), WAIT)
    await off.aclose()
    assert overlaps == 0


async def test_cancelled_caller_returns_while_its_thread_still_runs(offload: Offloader) -> None:
    """The caller never waits for the thread: each cancellation completes while the work is
    still blocked. (How fast, against the 3 ms p99 target, is benchmarks/thread_cancel.py's
    job: a wall-clock bound here would fail on a loaded machine.)"""
    release = threading.Event()
    for _ in range(100):
        started = threading.Event()

        def work(started: threading.Event = started) -> None:
            started.set()
            release.wait(WAIT)

        task = asyncio.create_task(offload.run(work))
        await _until(started.is_set)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not release.is_set()
        assert offload.abandoned == 1, "the cancelled caller waited for its thread"
        release.set()  # let the abandoned thread finish before the next round
        await _until(lambda: offload.abandoned == 0)
        release.clear()


async def test_abandoned_count_returns_to_zero_when_threads_finish(offload: Offloader) -> None:
    release = threading.Event()
    tasks = [asyncio.create_task(offload.run(release.wait, WAIT)) for _ in range(4)]
    await _until(lambda: offload.stats().running == 4)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert offload.abandoned == 4
    release.set()
    await _until(lambda: offload.abandoned == 0)
    assert offload.stats().abandoned_total == 4


async def test_abandoned_result_is_dropped_and_provider_keeps_working(
    offload: Offloader,
) -> None:
    release = threading.Event()
    results: list[str] = []

    def write() -> str:
        release.wait(WAIT)
        results.append("written")
        return "written"

    task = asyncio.create_task(offload.run(write))
    await _until(lambda: offload.stats().running == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    await _until(lambda: offload.abandoned == 0)
    assert results == ["written"]  # the thread ran to its end; only the caller left
    assert await offload.run(lambda: 42) == 42


async def test_call_cancelled_before_it_starts_never_runs() -> None:
    off = Offloader("queue", max_workers=1, max_abandoned=1)
    release = threading.Event()
    ran: list[int] = []
    first = asyncio.create_task(off.run(release.wait, WAIT))
    await _until(lambda: off.stats().running == 1)
    second = asyncio.create_task(off.run(ran.append, 1))
    await asyncio.sleep(0.01)
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    release.set()
    await asyncio.wait_for(first, WAIT)
    await off.aclose()
    assert ran == []
    assert off.stats().abandoned_total == 0


async def test_a_burst_reuses_finished_threads_and_never_exceeds_max_workers() -> None:
    off = Offloader("burst", max_workers=3, max_abandoned=32)
    alive: set[str] = set()

    def work() -> None:
        alive.add(threading.current_thread().name + str(threading.get_ident()))
        time.sleep(0.001)

    for _ in range(5):  # bursts with pauses: idle threads take the next burst
        await asyncio.wait_for(asyncio.gather(*(off.run(work) for _ in range(12))), WAIT)
        assert off.stats().threads <= 3
    await off.aclose()
    assert len(alive) <= 3  # one executor would start max_workers + max_abandoned


async def test_idle_threads_exit_when_the_offloader_is_dropped_unclosed() -> None:
    import gc

    off = Offloader("dropped", max_workers=2, max_abandoned=2)
    await asyncio.gather(off.run(time.sleep, 0.01), off.run(time.sleep, 0.01))

    def named() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "openmem-dropped"]

    assert named()
    del off
    gc.collect()
    await _until(lambda: not named())


async def test_cancelling_a_batch_starts_none_of_its_queued_calls() -> None:
    off = Offloader("batch", max_workers=1, max_abandoned=64)
    release = threading.Event()
    ran: list[int] = []

    def work(i: int) -> None:
        ran.append(i)
        release.wait(WAIT)

    tasks = [asyncio.create_task(off.run(work, i)) for i in range(20)]
    await _until(lambda: off.stats().running == 1)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(0.02)  # a replacement thread would have started one by now
    assert ran == [0]
    assert off.stats().abandoned_total == 1
    release.set()
    await _until(lambda: off.abandoned == 0)
    await off.aclose()


async def test_close_fails_callers_still_waiting_for_a_thread() -> None:
    off = Offloader("close-queued", max_workers=1, max_abandoned=2)
    release = threading.Event()
    first = asyncio.create_task(off.run(release.wait, WAIT))
    await _until(lambda: off.stats().running == 1)
    waiting = asyncio.create_task(off.run(lambda: "never"))
    await _until(lambda: off.stats().queued == 1)
    closing = asyncio.create_task(off.aclose(grace=WAIT))
    with pytest.raises(ClosedError):
        await asyncio.wait_for(waiting, WAIT)
    release.set()
    assert await asyncio.wait_for(closing, WAIT) is True
    assert await first is True


async def test_new_calls_are_refused_past_the_abandoned_cap() -> None:
    off = Offloader("cap", max_workers=2, max_abandoned=2)
    release = threading.Event()
    tasks = [asyncio.create_task(off.run(release.wait, WAIT)) for _ in range(2)]
    await _until(lambda: off.stats().running == 2)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    with pytest.raises(ProviderSaturatedError) as info:
        await off.run(lambda: 1)
    assert info.value.retryable
    release.set()
    await _until(lambda: off.abandoned == 0)
    assert await off.run(lambda: 1) == 1
    await off.aclose()


async def test_abandoned_threads_do_not_take_live_callers_slots() -> None:
    off = Offloader("slots", max_workers=2, max_abandoned=4)
    release = threading.Event()
    tasks = [asyncio.create_task(off.run(release.wait, WAIT)) for _ in range(2)]
    await _until(lambda: off.stats().running == 2)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    # Both worker slots are free again although both threads still run.
    assert await asyncio.wait_for(off.run(lambda: "live"), WAIT) == "live"
    release.set()
    await off.aclose()


async def test_serialized_call_waits_for_an_abandoned_one() -> None:
    off = Offloader("serial-abandon", max_abandoned=4, serialize=True)
    release = threading.Event()
    order: list[str] = []

    def slow() -> None:
        release.wait(WAIT)
        order.append("abandoned")

    task = asyncio.create_task(off.run(slow))
    await _until(lambda: off.stats().running == 1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    follow = asyncio.create_task(off.run(order.append, "next"))
    await asyncio.sleep(0.02)
    assert order == []  # still blocked behind the abandoned call's lock
    release.set()
    await asyncio.wait_for(follow, WAIT)
    await off.aclose()
    assert order == ["abandoned", "next"]


async def test_serialized_calls_cancelled_behind_an_abandoned_one_are_withdrawn() -> None:
    off = Offloader("serial-withdraw", max_abandoned=4, serialize=True)
    release = threading.Event()
    ran: list[int] = []
    first = asyncio.create_task(off.run(release.wait, WAIT))
    await _until(lambda: off.stats().running == 1)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    for i in range(10):  # more than max_abandoned: none of them is abandoned
        task = asyncio.create_task(off.run(ran.append, i))
        await asyncio.sleep(0.001)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert off.stats().abandoned == 1
    release.set()
    assert await asyncio.wait_for(off.run(lambda: "next"), WAIT) == "next"
    assert ran == []
    await off.aclose()


async def test_keyed_calls_with_one_key_never_overlap(offload: Offloader) -> None:
    release = threading.Event()
    order: list[str] = []

    def first() -> None:
        release.wait(WAIT)
        order.append("first")

    task = asyncio.create_task(offload.run_keyed("k1", first))
    await _until(lambda: offload.stats().running == 1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    other = await offload.run_keyed("k2", lambda: "other key runs at once")
    retry = asyncio.create_task(offload.run_keyed("k1", order.append, "retry"))
    await asyncio.sleep(0.02)
    assert order == []
    release.set()
    await asyncio.wait_for(retry, WAIT)
    assert other == "other key runs at once"
    assert order == ["first", "retry"]


async def test_context_variables_reach_the_worker_thread(offload: Offloader) -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var")
    var.set("from the caller")
    assert await offload.run(var.get) == "from the caller"


async def test_close_waits_for_running_threads() -> None:
    off = Offloader("close", max_workers=2, max_abandoned=2)
    done = threading.Event()

    def work() -> None:
        time.sleep(0.05)
        done.set()

    task = asyncio.create_task(off.run(work))
    await _until(lambda: off.stats().running == 1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert await off.aclose(grace=WAIT) is True
    assert done.is_set()


async def test_close_is_bounded_when_a_thread_hangs() -> None:
    off = Offloader("hang", max_workers=1, max_abandoned=1)
    release = threading.Event()
    task = asyncio.create_task(off.run(release.wait, WAIT))
    await _until(lambda: off.stats().running == 1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    t0 = time.monotonic()
    assert await off.aclose(grace=0.1) is False
    assert time.monotonic() - t0 < 1.0
    release.set()


async def test_calls_after_close_raise_closed_error(offload: Offloader) -> None:
    await offload.aclose()
    await offload.aclose()  # idempotent
    with pytest.raises(ClosedError):
        await offload.run(lambda: 1)


async def test_the_loops_default_executor_is_never_used(offload: Offloader) -> None:
    loop = asyncio.get_running_loop()
    await offload.run(lambda: None)
    assert getattr(loop, "_default_executor", None) is None


def test_gil_switch_interval_is_lowered_never_raised() -> None:
    original = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)
        Offloader("gil", gil_switch_interval=0.001)
        assert sys.getswitchinterval() == pytest.approx(0.001)
        Offloader("gil-again", gil_switch_interval=0.004)
        assert sys.getswitchinterval() == pytest.approx(0.001)
    finally:
        sys.setswitchinterval(original)
