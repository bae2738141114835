"""Client-chosen keys in the core: the gate, the argument rules and the sync facade.

The behaviour of a put, get and delete by key on each provider is the conformance group
``openmem_conformance.checks.client_keys``; these are the rules around it.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from openmem import AsyncMemory, Memory
from openmem.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    UnsupportedCapabilityError,
)
from openmem.inmemory import InMemoryProvider
from openmem.models import Capabilities


class _KeylessProvider(InMemoryProvider):
    """The in-memory provider without ``client_keys``: the gate must refuse keys."""

    name: ClassVar[str] = "keyless"
    calls = 0

    async def capabilities(self) -> Capabilities:
        caps = await super().capabilities()
        features = caps.features.model_copy(update={"client_keys": False})
        return caps.model_copy(update={"features": features})

    async def add(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
        self.calls += 1
        return await super().add(*args, **kwargs)  # type: ignore[arg-type]


async def test_a_key_without_the_capability_is_refused_before_any_io() -> None:
    provider = _KeylessProvider()
    async with AsyncMemory(provider) as mem:
        with pytest.raises(UnsupportedCapabilityError, match="client_keys"):
            await mem.add("x", user_id="u1", key="k")
        with pytest.raises(UnsupportedCapabilityError):
            await mem.get_by_key("k", user_id="u1")
        with pytest.raises(UnsupportedCapabilityError):
            await mem.delete_by_key("k", user_id="u1")
    assert provider.calls == 0


async def test_a_batch_with_a_key_is_refused_naming_the_item() -> None:
    async with AsyncMemory(provider="inmemory") as mem:
        with pytest.raises(InvalidRequestError) as caught:
            await mem.add_many(["plain", {"content": "keyed", "key": "k"}], user_id="u1")
        assert caught.value.field == "items.1.key"
        assert (await mem.list("u1")).items == []


async def test_a_key_with_messages_is_refused() -> None:
    async with AsyncMemory(provider="inmemory") as mem:
        with pytest.raises(InvalidRequestError) as caught:
            await mem.add(messages=[{"role": "user", "content": "hi"}], user_id="u1", key="k")  # type: ignore[call-overload]
        assert caught.value.field == "key"


async def test_a_malformed_key_is_invalid_request() -> None:
    async with AsyncMemory(provider="inmemory") as mem:
        for bad in ("", "x" * 257, "a\x00b"):
            with pytest.raises(InvalidRequestError) as caught:
                await mem.add("x", user_id="u1", key=bad)
            assert caught.value.field == "key"
            with pytest.raises(InvalidRequestError):
                await mem.get_by_key(bad, user_id="u1")


async def test_moving_a_keyed_memory_onto_a_taken_key_is_a_conflict() -> None:
    async with AsyncMemory(provider="inmemory") as mem:
        await mem.add("in a", user_id="u1", scope="a", key="k")
        mover = await mem.add("in b", user_id="u1", scope="b", key="k")
        with pytest.raises(ConflictError):
            await mem.update(mover.id, user_id="u1", scope="a")
        assert (await mem.get_by_key("k", user_id="u1", scope="b")).id == mover.id
        moved = await mem.update(mover.id, user_id="u1", scope="c")
        assert (await mem.get_by_key("k", user_id="u1", scope="c")).id == moved.id


def test_the_sync_facade_puts_gets_and_deletes_by_key() -> None:
    with Memory(provider="inmemory") as mem:
        first = mem.add("v1", user_id="u1", key="k")
        second = mem.add("v2", user_id="u1", key="k")
        assert second.id == first.id
        assert mem.get_by_key("k", user_id="u1").content == "v2"
        mem.delete_by_key("k", user_id="u1")
        with pytest.raises(NotFoundError):
            mem.get_by_key("k", user_id="u1")
