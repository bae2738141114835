"""The shared tests of translation adapters: subclass, give a ``provider`` fixture, done.

Every adapter built on ``TranslatingProvider`` must keep the same promises (isolation, round
trips, filters, supersession, pages, idempotency, cancellation), so their tests live here once.
Needs pytest (with ``asyncio_mode = "auto"``); nothing in openmem imports this module.

    class TestPowermem(TranslatingProviderTests):
        provider_class = PowermemProvider
        extension = "x-powermem"
        unknown_ids = ("123", "-1", "not-a-number")

The class name does not start with ``Test``, so pytest collects only the subclasses.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from openmem.errors import ConflictError, NotFoundError, UnsupportedCapabilityError
from openmem.llm.fake import FakeChatServer, FakeReply
from openmem.memory import AsyncMemory
from openmem.models import ListQuery, MemoryInput, MemoryPatch, SearchQuery
from openmem.provider import Caller
from openmem.translation.provider import TranslatingProvider

__all__ = [
    "ALICE",
    "ALICE_ELSEWHERE",
    "BOB",
    "BackendInferenceTests",
    "TranslatingProviderTests",
    "item",
    "run_in_a_process",
]

ALICE = Caller("ns1", "alice")
BOB = Caller("ns1", "bob")
ALICE_ELSEWHERE = Caller("ns2", "alice")

Adapter = TranslatingProvider[Any, Any]


def item(content: str, user: str = "alice", **fields: object) -> MemoryInput:
    """A ``MemoryInput`` for ``user`` (alice by default)."""
    return MemoryInput(content=content, user_id=user, **fields)


_PROCESS_SCRIPT = """
import asyncio, atexit, sys, time
# Registered first, so it runs last: after the joins of non-daemon threads and every other
# exit handler (an SDK's telemetry flush), before the interpreter frees its modules.
atexit.register(lambda: print(time.monotonic(), flush=True))
from openmem.models import MemoryInput, SearchQuery
from openmem.provider import Caller
from {module} import {name}

async def main():
    provider = {name}(data_dir=sys.argv[1], embedder="hashing", embedder_dim=64)
    await provider.open()
    caller = Caller("ns", "u1")
    await provider.add(caller, MemoryInput(content="exit quickly", user_id="u1"))
    await provider.search(caller, SearchQuery(query="exit"))
    closing = time.monotonic()
    await provider.close()
    print(time.monotonic() - closing)

asyncio.run(main())
print(time.monotonic(), flush=True)
"""


def run_in_a_process(
    tmp_path: Path, provider_class: type[Adapter], env: dict[str, str]
) -> tuple[float, float]:
    """Open ``provider_class`` in a fresh process, add, search, close; how long ``close``
    took and how long the exit took from the script's last line to the end of the exit
    handlers (thread joins, telemetry flushes), both in seconds.

    Neither counts imports, opening or the interpreter's final teardown, whose times follow
    the machine's load; what an SDK can stall (a flush, a joined thread) falls in the two.
    The store is ``tmp_path/data``. Asserts the process succeeds and writes nothing into its
    working directory; the caller checks the times and its ``HOME``.
    """
    script = _PROCESS_SCRIPT.format(
        module=provider_class.__module__.split(".")[0], name=provider_class.__name__
    )
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "data")],
        cwd=workdir,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert list(workdir.iterdir()) == [], "the SDK wrote into the current directory"
    close_seconds, last_line, exit_handled = map(float, done.stdout.decode().split()[-3:])
    exit_seconds = exit_handled - last_line
    print(f"{provider_class.name}: close {close_seconds:.2f} s, exit {exit_seconds:.2f} s")
    return close_seconds, exit_seconds


class TranslatingProviderTests:
    """The promises of every translation adapter; a subclass supplies ``provider``."""

    provider_class: ClassVar[type[Adapter]]
    """The adapter under test; built with ``data_dir``, hashing and ``embedder_dim``."""
    extension: ClassVar[str]
    """The adapter's extension field (``x-<name>``)."""
    unknown_ids: ClassVar[tuple[str, ...]]
    """Ids that name no memory: well-formed but absent, and malformed."""

    @pytest.fixture
    async def provider(self, tmp_path: Path) -> AsyncIterator[Adapter]:
        """A fresh adapter over a store in ``tmp_path``, open, closed afterwards."""
        adapter = self.provider_class(data_dir=str(tmp_path), embedder="hashing", embedder_dim=64)
        await asyncio.wait_for(adapter.open(), 60)
        yield adapter
        await asyncio.wait_for(adapter.close(), 30)

    async def test_every_field_and_extension_round_trips(self, provider: Adapter) -> None:
        sent = MemoryInput.model_validate(
            {
                "content": "prefers dark mode",
                "user_id": "alice",
                "scope": "ui/preferences",
                "tags": ["ui", "theme"],
                "source": {"app": "settings", "type": "explicit", "ref": "form-3"},
                "confidence": 0.75,
                "valid_from": "2020-01-01T00:00:00Z",
                "valid_to": "2999-01-01T00:00:00Z",
                "agent_id": "agent-7",
                "session_id": "s-1",
                "metadata": {"k": 1, "nested": {"a": [1, 2]}},
                self.extension: {"note": "kept"},
            }
        )
        added = await provider.add(ALICE, sent)
        got = await provider.get(ALICE, added.id)
        assert got == added
        assert got.scope == "ui/preferences"
        assert got.tags == ["ui", "theme"]
        assert got.source is not None
        assert got.source.ref == "form-3"
        assert got.confidence == 0.75
        assert got.agent_id == "agent-7"
        assert got.session_id == "s-1"
        assert got.metadata == {"k": 1, "nested": {"a": [1, 2]}}
        assert got.extensions == {self.extension: {"note": "kept"}}
        assert got.embedding_model == "openmem-hashing-v2-64"

    async def test_another_user_cannot_get_update_or_delete_a_memory(
        self, provider: Adapter
    ) -> None:
        added = await provider.add(ALICE, item("alice's secret"))
        for caller in (BOB, ALICE_ELSEWHERE):
            with pytest.raises(NotFoundError):
                await provider.get(caller, added.id)
            with pytest.raises(NotFoundError):
                await provider.update(caller, added.id, MemoryPatch(content="stolen"))
            with pytest.raises(NotFoundError):
                await provider.delete(caller, added.id)
        assert (await provider.get(ALICE, added.id)).content == "alice's secret"

    async def test_search_and_list_never_return_another_users_memories(
        self, provider: Adapter
    ) -> None:
        await provider.add(ALICE, item("alice likes tea"))
        await provider.add(ALICE_ELSEWHERE, item("alice in ns2 likes tea"))
        await provider.add(BOB, item("bob likes tea", user="bob"))
        hits = await provider.search(ALICE, SearchQuery(query="likes tea"))
        assert [h.memory.content for h in hits] == ["alice likes tea"]
        page = await provider.list(ALICE, ListQuery())
        assert [r.content for r in page.items] == ["alice likes tea"]

    async def test_unknown_and_malformed_ids_are_not_found(self, provider: Adapter) -> None:
        for memory_id in self.unknown_ids:
            with pytest.raises(NotFoundError):
                await provider.get(ALICE, memory_id)

    async def test_search_honours_limit_and_returns_scores_in_range(
        self, provider: Adapter
    ) -> None:
        for i in range(8):
            await provider.add(ALICE, item(f"coffee fact number {i}"))
        hits = await provider.search(ALICE, SearchQuery(query="coffee fact", limit=3))
        assert len(hits) == 3
        assert all(0.0 <= h.score <= 1.0 for h in hits)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    async def test_search_filters_scope_tags_and_metadata_after_refilling(
        self, provider: Adapter
    ) -> None:
        for i in range(40):
            await provider.add(ALICE, item(f"note about travel {i}", scope="misc"))
        wanted = await provider.add(
            ALICE,
            item("note about travel plans", scope="trips/japan", tags=["t"], metadata={"y": 1}),
        )
        query = SearchQuery(query="note about travel", scope="trips", tags=["t"], filters={"y": 1})
        hits = await provider.search(ALICE, query)
        assert [h.memory.id for h in hits] == [wanted.id]

    async def test_search_leaves_out_expired_and_superseded_memories(
        self, provider: Adapter
    ) -> None:
        past = datetime.now(UTC) - timedelta(days=1)
        await provider.add(ALICE, item("expired lunch plan", valid_to=past))
        old = await provider.add(ALICE, item("lunch plan old"))
        new = await provider.add(ALICE, item("lunch plan new", supersedes=[old.id]))
        hits = await provider.search(ALICE, SearchQuery(query="lunch plan"))
        assert [h.memory.id for h in hits] == [new.id]
        everything = await provider.search(
            ALICE, SearchQuery(query="lunch plan", include_inactive=True)
        )
        assert len(everything) == 3

    async def test_update_is_a_merge_patch(self, provider: Adapter) -> None:
        added = await provider.add(ALICE, item("v1", tags=["a"], metadata={"keep": 1, "drop": 2}))
        updated = await provider.update(
            ALICE, added.id, MemoryPatch(content="v2", metadata={"drop": None, "new": 3})
        )
        assert updated.content == "v2"
        assert updated.tags == ["a"]
        assert updated.metadata == {"keep": 1, "new": 3}
        assert updated.updated_at is not None
        assert updated.updated_at >= added.created_at
        assert await provider.get(ALICE, added.id) == updated
        hits = await provider.search(ALICE, SearchQuery(query="v2"))
        assert hits[0].memory.id == added.id

    async def test_deleted_memory_is_gone(self, provider: Adapter) -> None:
        added = await provider.add(ALICE, item("short-lived"))
        await provider.delete(ALICE, added.id)
        with pytest.raises(NotFoundError):
            await provider.get(ALICE, added.id)
        with pytest.raises(NotFoundError):
            await provider.delete(ALICE, added.id)

    async def test_list_pages_newest_first_without_an_empty_last_page(
        self, provider: Adapter
    ) -> None:
        ids = [(await provider.add(ALICE, item(f"m{i}"))).id for i in range(7)]
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = await provider.list(ALICE, ListQuery(limit=3, cursor=cursor))
            assert page.items, "a page is never empty"
            seen += [r.id for r in page.items]
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == list(reversed(ids))
        assert pages == 3

    async def test_same_idempotency_key_returns_the_first_record(self, provider: Adapter) -> None:
        first = await provider.add(ALICE, item("once", idempotency_key="k-1"))
        again = await provider.add(ALICE, item("once", idempotency_key="k-1"))
        assert again.id == first.id
        assert len((await provider.list(ALICE, ListQuery())).items) == 1
        with pytest.raises(ConflictError):
            await provider.add(ALICE, item("other content", idempotency_key="k-1"))

    async def test_idempotency_keys_are_per_user(self, provider: Adapter) -> None:
        a = await provider.add(ALICE, item("same", idempotency_key="k"))
        b = await provider.add(BOB, item("same", user="bob", idempotency_key="k"))
        assert a.id != b.id

    async def test_forget_user_deletes_only_that_user(self, provider: Adapter) -> None:
        for i in range(3):
            await provider.add(ALICE, item(f"a{i}"))
        await provider.add(BOB, item("b", user="bob"))
        assert await provider.forget_user(ALICE) == 3
        assert (await provider.list(ALICE, ListQuery())).items == []
        assert len((await provider.list(BOB, ListQuery())).items) == 1

    async def test_concurrent_adds_lose_nothing(self, provider: Adapter) -> None:
        adds = [provider.add(ALICE, item(f"parallel {i}")) for i in range(60)]
        records = await asyncio.wait_for(asyncio.gather(*adds), 60)
        assert len({r.id for r in records}) == 60
        listed = await provider.list(ALICE, ListQuery(limit=100))
        assert len(listed.items) == 60

    async def test_capabilities_declare_thread_cancellation(self, provider: Adapter) -> None:
        caps = await provider.capabilities()
        assert caps.features.cancellation == "thread"
        assert not caps.features.supports_audit
        assert "audit" not in caps.verbs

    async def test_cancelled_calls_release_the_caller_and_threads_drain(
        self, provider: Adapter
    ) -> None:
        tasks = [asyncio.ensure_future(provider.add(ALICE, item(f"c{i}"))) for i in range(50)]
        await asyncio.sleep(0.01)
        t0 = time.perf_counter()
        for task in tasks:
            task.cancel()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
        assert time.perf_counter() - t0 < 0.05
        deadline = time.monotonic() + 20
        while provider.offload_stats().abandoned:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        added = await provider.add(ALICE, item("still works"))
        assert (await provider.get(ALICE, added.id)).content == "still works"


class BackendInferenceTests:
    """``add(messages=..., infer=True)`` through the SDK's own inference (``infer="backend"``).

    The SDK's LLM is pointed at a FAKE chat-completions server (``openmem.llm.fake``) whose
    replies the subclass gives in ``chat_reply``: the conversation goes to the SDK, not to
    openmem's pipeline, and the memories the SDK extracted come back as records.
    """

    provider_class: ClassVar[type[Adapter]]
    """The adapter under test; built with ``data_dir``, ``embedder_dim`` and ``llm``."""
    conversation: ClassVar[list[dict[str, str]]] = [
        {"role": "user", "content": "Hi! I live in Lisbon."},
        {"role": "assistant", "content": "Nice!"},
    ]
    extracted: ClassVar[str] = "Lives in Lisbon"
    """The one fact ``chat_reply`` makes the SDK extract from ``conversation``."""

    @staticmethod
    def chat_reply(body: dict[str, Any]) -> FakeReply:
        """The fake LLM's answer to one chat-completions request of the SDK."""
        raise NotImplementedError

    @pytest.fixture
    def chat_server(self) -> Iterator[FakeChatServer]:
        """The fake chat-completions server, answering with ``chat_reply``."""
        with FakeChatServer(self.chat_reply) as server:
            yield server

    async def test_infers_with_its_own_llm(
        self, tmp_path: Path, chat_server: FakeChatServer
    ) -> None:
        llm = {
            "provider": "openai",
            "config": {"api_key": "sk-fake", "openai_base_url": chat_server.url, "model": "fake"},
        }
        adapter = self.provider_class(data_dir=str(tmp_path), embedder_dim=64, llm=llm)
        async with AsyncMemory(adapter) as mem:
            assert (await mem.capabilities()).features.infer == "backend"
            records = await mem.add(
                messages=self.conversation, user_id="alice", infer=True, scope="me"
            )
            assert [r.content for r in records] == [self.extracted]
            assert records[0].scope == "me"
            assert chat_server.requests, "the SDK did not ask its LLM"
            stored = await mem.get(records[0].id, user_id="alice")
            assert stored.content == self.extracted
            assert not (await mem.list("bob")).items

    async def test_without_an_llm_declares_no_inference(self, tmp_path: Path) -> None:
        adapter = self.provider_class(data_dir=str(tmp_path), embedder_dim=64)
        async with AsyncMemory(adapter) as mem:
            assert (await mem.capabilities()).features.infer == "none"
            with pytest.raises(UnsupportedCapabilityError):
                await mem.add(messages=self.conversation, user_id="alice", infer=True)
