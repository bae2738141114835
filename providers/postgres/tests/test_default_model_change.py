"""A store written by the earlier default embedder (the whole all-MiniLM-L6-v2) under the new
default (three of its layers, 8-bit): a clear error, and two ways on, both real."""

from __future__ import annotations

import pytest
from openmem_postgres import PostgresProvider
from openmem_postgres.reembed import reembed_stored

from openmem.embedders.model_files import DEFAULT_MODEL, MINILM_MODEL
from openmem.errors import EmbeddingModelMismatchError
from openmem.models import MemoryInput, SearchQuery
from openmem.provider import Caller

ESPRESSO = "Ada loves espresso in the morning"
QUESTION = SearchQuery(query="what beverage does she like?", mode="semantic")


async def test_a_minilm_store_opened_with_the_new_default_says_which_models_and_how_on(
    postgres_database_url: str, pg_namespace: str
) -> None:
    caller = Caller(pg_namespace, "ada")
    old = PostgresProvider(url=postgres_database_url, embedder_model=MINILM_MODEL)
    await old.open()
    try:
        await old.add_many(
            caller,
            [MemoryInput(content=c, user_id="ada") for c in (ESPRESSO, "Ada moved to Porto")],
        )
    finally:
        await old.close()

    new = PostgresProvider(url=postgres_database_url)
    await new.open()
    try:
        assert new.embedder.model == DEFAULT_MODEL
        with pytest.raises(EmbeddingModelMismatchError) as raised:
            await new.search(caller, QUESTION)
        assert MINILM_MODEL in str(raised.value)
        assert DEFAULT_MODEL in str(raised.value)
        assert "embedder_model" in str(raised.value)

        kept = PostgresProvider(url=postgres_database_url, embedder_model=MINILM_MODEL)
        await kept.open()
        try:
            hits = await kept.search(caller, QUESTION)
            assert hits[0].memory.content == ESPRESSO
        finally:
            await kept.close()

        assert await reembed_stored(new, batch_size=10) == 2
        hits = await new.search(caller, QUESTION)
        assert hits[0].memory.content == ESPRESSO
        assert {h.memory.embedding_model for h in hits} == {DEFAULT_MODEL}
    finally:
        await new.close()
