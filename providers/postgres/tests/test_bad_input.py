"""Bad input: a typed error, nothing written, the pool healthy afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest
from openmem_postgres import PostgresProvider

from openmem.embedders import Embedder
from openmem.errors import InvalidRequestError, NotFoundError
from openmem.models import AuditQuery, ListQuery, MemoryInput, MemoryPatch, SearchQuery
from openmem.provider import Caller


@pytest.fixture
async def healthy_after(
    provider: PostgresProvider, caller: Caller
) -> AsyncIterator[PostgresProvider]:
    """After the test: nothing stored for the caller, every connection back, pool working."""
    yield provider
    assert (await provider.list(caller, ListQuery())).items == []
    assert [e for e in await provider.audit(caller, AuditQuery()) if e.action == "add"] == []
    await provider.runner.wait_released(grace=5)
    pool = provider.runner.pool
    assert pool.get_idle_size() == pool.get_size()
    await provider.health()


async def test_nul_bytes_in_content_are_refused(
    healthy_after: PostgresProvider, caller: Caller
) -> None:
    bad = MemoryInput.model_construct(content="a\x00b", user_id="alice", tags=[], metadata={})
    with pytest.raises(InvalidRequestError):
        await healthy_after.add(caller, bad)


async def test_nul_bytes_in_a_batch_write_nothing_of_the_batch(
    healthy_after: PostgresProvider, caller: Caller
) -> None:
    good = MemoryInput(content="fine", user_id="alice")
    bad = MemoryInput.model_construct(content="a\x00b", user_id="alice", tags=[], metadata={})
    with pytest.raises(InvalidRequestError):
        await healthy_after.add_many(caller, [good, bad])


async def test_over_long_content_is_refused(postgres_url: str, pg_namespace: str) -> None:
    provider = PostgresProvider(embedder="hashing", url=postgres_url, max_content_length=10)
    await provider.open()
    try:
        caller = Caller(pg_namespace, "alice")
        with pytest.raises(InvalidRequestError) as info:
            await provider.add(caller, MemoryInput(content="x" * 11, user_id="alice"))
        assert info.value.field == "content"
        assert (await provider.list(caller, ListQuery())).items == []
    finally:
        await provider.close()


async def test_too_large_a_batch_is_refused(
    healthy_after: PostgresProvider, caller: Caller
) -> None:
    items = [MemoryInput(content=f"m{i}", user_id="alice") for i in range(101)]
    with pytest.raises(InvalidRequestError):
        await healthy_after.add_many(caller, items)


class _WrongSizeEmbedder(Embedder):
    """Claims the provider's dimension but returns 3 numbers."""

    def __init__(self, model: str, dim: int) -> None:
        self.model = model
        self.dim = dim

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, 0.0, 0.0] for _ in texts]


async def test_a_vector_of_the_wrong_dimension_is_refused(
    healthy_after: PostgresProvider, caller: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = healthy_after.embedder
    monkeypatch.setattr(healthy_after.store, "embedder", _WrongSizeEmbedder(real.model, real.dim))
    with pytest.raises(InvalidRequestError) as info:
        await healthy_after.add(caller, MemoryInput(content="x", user_id="alice"))
    assert info.value.field == "embedding"
    monkeypatch.setattr(healthy_after.store, "embedder", real)


async def test_the_database_refuses_a_vector_of_the_wrong_dimension_too(
    healthy_after: PostgresProvider, caller: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unchecked(texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, 0.0, 0.0] for _ in texts]

    monkeypatch.setattr(healthy_after.store, "embed", unchecked)
    with pytest.raises(InvalidRequestError):
        await healthy_after.add(caller, MemoryInput(content="x", user_id="alice"))


@pytest.mark.parametrize(
    "cursor", ["garbage", "c1.", "c1.!!!!", "c1.WyJ4Il0", "c1.eyJhIjoxfQ", "c2.abc"]
)
async def test_malformed_cursors_are_refused(
    healthy_after: PostgresProvider, caller: Caller, cursor: str
) -> None:
    with pytest.raises(InvalidRequestError) as info:
        await healthy_after.list(caller, ListQuery(cursor=cursor))
    assert info.value.field == "cursor"


@pytest.mark.parametrize("limit", [0, -1, 501, 10**9])
async def test_list_limit_out_of_range_is_refused(
    healthy_after: PostgresProvider, caller: Caller, limit: int
) -> None:
    with pytest.raises(InvalidRequestError):
        await healthy_after.list(caller, ListQuery.model_construct(limit=limit, tags=[]))


@pytest.mark.parametrize("limit", [0, 101])
async def test_search_limit_out_of_range_is_refused(
    healthy_after: PostgresProvider, caller: Caller, limit: int
) -> None:
    query = SearchQuery.model_construct(query="x", limit=limit, tags=[], filters={})
    with pytest.raises(InvalidRequestError):
        await healthy_after.search(caller, query)


async def test_unknown_ids_are_not_found_by_every_by_id_verb(
    healthy_after: PostgresProvider, caller: Caller
) -> None:
    for memory_id in ["mem_01ABCDEFGHJKMNPQRSTVWXYZ00", "not-an-id", "x" * 256]:
        with pytest.raises(NotFoundError):
            await healthy_after.get(caller, memory_id)
        with pytest.raises(NotFoundError):
            await healthy_after.update(caller, memory_id, MemoryPatch(tags=["x"]))
        with pytest.raises(NotFoundError):
            await healthy_after.delete(caller, memory_id)
