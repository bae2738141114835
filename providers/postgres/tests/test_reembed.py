"""``openmem reembed``: an interrupted run resumes without re-embedding what is done."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from openmem_postgres import PostgresProvider
from openmem_postgres.reembed import reembed_stored

from openmem.embedders import HashingEmbedder
from openmem.models import MemoryInput, SearchQuery
from openmem.provider import Caller


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, remembering every text it embedded."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.seen: list[str] = []

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.seen.extend(texts)
        return await super().embed(texts)


class Interrupted(Exception):
    """Stands for a Ctrl-C between two batches."""


async def test_an_interrupted_reembed_resumes_with_the_rows_not_yet_done(
    postgres_database_url: str, pg_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller = Caller(pg_namespace, "alice")
    old = PostgresProvider(embedder="hashing", url=postgres_database_url, embedder_dim=32)
    await old.open()
    try:
        await old.add_many(
            caller, [MemoryInput(content=f"note {i}", user_id="alice") for i in range(7)]
        )
    finally:
        await old.close()

    new = PostgresProvider(embedder="hashing", url=postgres_database_url, embedder_dim=48)
    await new.open()
    try:
        counting = CountingEmbedder(48)
        # The same model as the provider's, counted.
        monkeypatch.setattr(new.store, "embedder", counting)

        def stop_after_first_batch(done: int, total: int) -> None:
            if done:
                raise Interrupted

        with pytest.raises(Interrupted):
            await reembed_stored(new, batch_size=3, progress=stop_after_first_batch)
        first_run = list(counting.seen)
        assert len(first_run) == 3

        assert await reembed_stored(new, batch_size=3) == 4
        second_run = counting.seen[len(first_run) :]
        assert sorted(first_run + second_run) == sorted(f"note {i}" for i in range(7))
        assert await reembed_stored(new, batch_size=3) == 0  # nothing left, nothing redone
        hits = await new.search(caller, SearchQuery(query="note 5", mode="semantic"))
        assert hits[0].memory.content == "note 5"
    finally:
        await new.close()
