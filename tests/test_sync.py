"""Memory: the same verbs as AsyncMemory, without await, from any thread."""

from __future__ import annotations

import asyncio
import inspect
import threading

import pytest

from openmem import AsyncMemory, ClosedError, Memory, NotFoundError

VERBS = [
    "add",
    "add_many",
    "get",
    "update",
    "delete",
    "list",
    "search",
    "context",
    "audit",
    "capabilities",
    "forget_user",
    "wait_for_ingest",
    "get_event",
    "initialize",
]


@pytest.mark.parametrize("verb", VERBS)
def test_sync_and_async_verbs_have_the_same_parameters(verb: str) -> None:
    async_sig = inspect.signature(getattr(AsyncMemory, verb))
    sync_sig = inspect.signature(getattr(Memory, verb))
    assert list(sync_sig.parameters.values()) == list(async_sig.parameters.values())
    assert sync_sig.return_annotation == async_sig.return_annotation
    assert getattr(Memory, verb).__doc__ == getattr(AsyncMemory, verb).__doc__


def test_every_public_async_verb_has_a_sync_twin() -> None:
    public = {
        name
        for name, value in vars(AsyncMemory).items()
        if inspect.iscoroutinefunction(value) and not name.startswith("_")
    }
    assert public - {"close"} <= set(VERBS)
    assert all(callable(getattr(Memory, name)) for name in public)


def test_constructors_take_the_same_arguments() -> None:
    assert inspect.signature(Memory.__init__) == inspect.signature(AsyncMemory.__init__)


def test_round_trip_without_await() -> None:
    with Memory(provider="inmemory") as mem:
        record = mem.add("likes tea", user_id="u")
        assert mem.get(record.id, user_id="u") == record
        assert mem.search("tea", "u")[0].memory.id == record.id
        with pytest.raises(NotFoundError):
            mem.get(record.id, user_id="other")


def test_usable_from_many_threads_at_once() -> None:
    with Memory(provider="inmemory") as mem:
        errors: list[BaseException] = []

        def worker(n: int) -> None:
            try:
                for i in range(10):
                    mem.add(f"thread {n} item {i}", user_id=f"user{n}")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert errors == []
        assert all(len(mem.list(f"user{n}").items) == 10 for n in range(8))


def test_usable_inside_a_running_event_loop() -> None:
    async def notebook_cell() -> str:
        with Memory(provider="inmemory") as mem:
            return mem.add("from a notebook", user_id="u").content

    assert asyncio.run(notebook_cell()) == "from a notebook"


def test_close_is_idempotent_and_verbs_after_it_raise() -> None:
    mem = Memory(provider="inmemory")
    mem.add("x", user_id="u")
    mem.close()
    mem.close()
    with pytest.raises(ClosedError):
        mem.list("u")


def test_close_of_an_unused_instance_starts_no_thread() -> None:
    before = threading.active_count()
    Memory(provider="inmemory").close()
    assert threading.active_count() == before
