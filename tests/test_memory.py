"""AsyncMemory: lifecycle, loop binding, validation and the capability gate."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any
from typing import Any as RecordingProvider

import pytest

from openmem import (
    AsyncMemory,
    Capabilities,
    ClosedError,
    EventLoopMismatchError,
    InvalidRequestError,
    NotFoundError,
    UnsupportedCapabilityError,
)
from openmem.embedders import HashingEmbedder
from openmem.inmemory import InMemoryProvider


def test_construction_does_no_io(recording: RecordingProvider) -> None:
    AsyncMemory(provider=recording)
    assert recording.calls == []


async def test_first_verb_opens_once_and_caches_capabilities(recording: RecordingProvider) -> None:
    mem = AsyncMemory(provider=recording)
    await mem.add("a", user_id="u")
    await mem.add("b", user_id="u")
    await mem.capabilities()
    assert recording.calls.count("open") == 1
    assert recording.calls.count("capabilities") == 1
    await mem.close()


async def test_close_is_idempotent_and_verbs_after_it_raise(recording: RecordingProvider) -> None:
    mem = AsyncMemory(provider=recording)
    await mem.initialize()
    await mem.close()
    await mem.close()
    assert recording.calls.count("close") == 1
    with pytest.raises(ClosedError):
        await mem.search("q", "u")


def test_a_second_event_loop_is_refused_before_any_backend_call(
    recording: RecordingProvider,
) -> None:
    mem = AsyncMemory(provider=recording)
    asyncio.run(mem.initialize())
    calls_before = list(recording.calls)

    async def from_another_loop() -> None:
        await mem.add("x", user_id="u")

    with pytest.raises(
        RuntimeError, match=r"^AsyncMemory is bound to a different event loop: create"
    ):
        asyncio.run(from_another_loop())
    assert recording.calls == calls_before


def test_loop_mismatch_is_a_runtime_error_subclass(recording: RecordingProvider) -> None:
    mem = AsyncMemory(provider=recording)
    asyncio.run(mem.initialize())
    with pytest.raises(EventLoopMismatchError):
        asyncio.run(mem.get("mem_x", user_id="u"))


def test_loop_mismatch_from_another_thread(recording: RecordingProvider) -> None:
    mem = AsyncMemory(provider=recording)
    asyncio.run(mem.initialize())
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            asyncio.run(mem.list("u"))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(5)
    assert len(errors) == 1
    assert isinstance(errors[0], EventLoopMismatchError)


class NoAuditProvider(InMemoryProvider):
    async def capabilities(self) -> Capabilities:
        caps = await super().capabilities()
        return caps.model_copy(
            update={
                "verbs": [v for v in caps.verbs if v != "audit"],
                "features": caps.features.model_copy(
                    update={"keyword_search": False, "batch_add": False}
                ),
            }
        )

    async def audit(self, caller: Any, query: Any) -> Any:
        raise AssertionError("the gate must stop undeclared verbs before the provider")


async def test_undeclared_verbs_and_features_are_refused_before_any_io() -> None:
    async with AsyncMemory(provider=NoAuditProvider()) as mem:
        with pytest.raises(UnsupportedCapabilityError):
            await mem.audit("u")
        with pytest.raises(UnsupportedCapabilityError):
            await mem.search("q", "u", mode="keyword")
        with pytest.raises(UnsupportedCapabilityError):
            await mem.add_many(["a"], user_id="u")


async def test_bad_input_is_refused_without_opening_the_provider(
    recording: RecordingProvider,
) -> None:
    mem = AsyncMemory(provider=recording)
    for call in (
        mem.add("", user_id="u"),
        mem.add("x", user_id=""),
        mem.add("x\x00", user_id="u"),
        mem.add("x", user_id="u", confidence=2),
        mem.search("q", "u", limit=0),
        mem.list("u", cursor=""),
        mem.get("", user_id="u"),
    ):
        with pytest.raises(InvalidRequestError):
            await call
    assert recording.calls == []


async def test_content_over_the_configured_limit_names_the_field() -> None:
    async with AsyncMemory(provider="inmemory", max_content_length=10) as mem:
        with pytest.raises(InvalidRequestError) as caught:
            await mem.add("x" * 11, user_id="u")
    assert caught.value.field == "content"


async def test_misspelt_keyword_arguments_are_type_errors(mem: AsyncMemory) -> None:
    with pytest.raises(TypeError, match="scop"):
        await mem.add("x", user_id="u", scop="a")  # type: ignore[call-arg]


async def test_x_keywords_become_x_dash_extensions(mem: AsyncMemory) -> None:
    record = await mem.add("x", user_id="u", x_acme_tool={"v": 1})
    assert (await mem.get(record.id, user_id="u")).extensions == {"x-acme-tool": {"v": 1}}


async def test_by_id_verbs_of_another_user_are_not_found(mem: AsyncMemory) -> None:
    record = await mem.add("secret", user_id="alice")
    for call in (
        mem.get(record.id, user_id="mallory"),
        mem.update(record.id, user_id="mallory", content="pwned"),
        mem.delete(record.id, user_id="mallory"),
    ):
        with pytest.raises(NotFoundError):
            await call
    assert (await mem.get(record.id, user_id="alice")).content == "secret"


async def test_update_without_fields_is_refused(mem: AsyncMemory) -> None:
    record = await mem.add("x", user_id="u")
    with pytest.raises(InvalidRequestError):
        await mem.update(record.id, user_id="u")


async def test_namespaces_are_isolated_on_a_shared_provider() -> None:
    shared = InMemoryProvider()
    async with AsyncMemory(provider=shared, namespace="a") as a:
        record = await a.add("tenant a", user_id="u")
        async with AsyncMemory(provider=shared, namespace="b") as b:
            assert (await b.list("u")).items == []
            with pytest.raises(NotFoundError):
                await b.get(record.id, user_id="u")


async def test_cancelled_verb_raises_cancelled_error_and_instance_stays_usable(
    mem: AsyncMemory,
) -> None:
    class SlowEmbedder(HashingEmbedder):
        async def embed(self, texts: Sequence[str]) -> list[list[float]]:
            await asyncio.sleep(10)
            return await super().embed(texts)

    mem.provider._embedder = SlowEmbedder()  # type: ignore[attr-defined]
    task = asyncio.create_task(mem.add("x", user_id="u"))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await mem.list("u")).items == []  # nothing half-written
    mem.provider._embedder = HashingEmbedder()  # type: ignore[attr-defined]
    assert (await mem.add("y", user_id="u")).content == "y"


async def test_wait_for_ingest_returns_synchronously_ingested_records(mem: AsyncMemory) -> None:
    record = await mem.add("x", user_id="u")
    assert await mem.wait_for_ingest([record.id], user_id="u", timeout=1) == [record]


def test_plain_with_names_async_with_and_memory() -> None:
    from openmem.errors import OpenMemUsageError

    with (
        pytest.raises(OpenMemUsageError, match=r"async with AsyncMemory.*with Memory"),
        AsyncMemory(provider="inmemory"),
    ):
        pass


async def test_the_event_loop_error_names_the_remedy() -> None:
    import threading

    mem = AsyncMemory(provider="inmemory")
    await mem.initialize()
    errors: list[BaseException] = []

    def elsewhere() -> None:
        try:
            asyncio.run(mem.capabilities())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    await mem.close()
    assert len(errors) == 1
    assert "bound to a different event loop" in str(errors[0])
    assert "use Memory" in str(errors[0])
