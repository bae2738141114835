"""``OpenMemStore`` against LangGraph's own ``InMemoryStore``: the same random operation
sequences give the same answers (scores aside; see the module docstring for the two
documented differences, which the comparison accounts for and nothing else)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from langgraph.store.base import BaseStore, GetOp, PutOp, SearchOp
from langgraph.store.memory import InMemoryStore

from openmem import AsyncMemory, Memory
from openmem.integrations.langgraph import OpenMemStore, namespace_of, scope_of

NAMESPACES = [("a",), ("a", "b"), ("a", "b", "c"), ("c",), ("x y",), ("s/l", "*"), ("a", "c")]
KEYS = ["k1", "k2", "k3"]
FILTERS: list[dict[str, Any] | None] = [
    None,
    {"t": "red"},
    {"n": 2},
    {"n": {"$gt": 1}},
    {"t": {"$ne": "red"}, "n": {"$lte": 2}},
]


def as_set(items: list[Any]) -> set[tuple[tuple[str, ...], str, str]]:
    return {(i.namespace, i.key, json.dumps(i.value, sort_keys=True)) for i in items}


def namespaces_holding_items(store: BaseStore) -> set[tuple[str, ...]]:
    return {i.namespace for i in store.search((), limit=10_000)}


def run_sequence(seed: int, ours: BaseStore, theirs: InMemoryStore) -> int:
    """Apply one random sequence to both stores, comparing every answer; returns checks made."""
    rng = random.Random(seed)
    checks = 0
    for _ in range(40):
        ns, key = rng.choice(NAMESPACES), rng.choice(KEYS)
        roll = rng.random()
        if roll < 0.4:
            value = {"n": rng.randint(0, 3), "t": rng.choice(["red", "blue"]), "s": seed}
            ours.put(ns, key, value)
            theirs.put(ns, key, value)
            continue
        if roll < 0.5:
            ours.delete(ns, key)
            theirs.delete(ns, key)
            continue
        checks += 1
        if roll < 0.7:
            mine, ref = ours.get(ns, key), theirs.get(ns, key)
            assert (mine is None) == (ref is None), (seed, "get", ns, key)
            if mine is not None and ref is not None:
                assert (mine.namespace, mine.key, mine.value) == (ref.namespace, ref.key, ref.value)
        elif roll < 0.9:
            prefix = rng.choice([(), *NAMESPACES])
            where = rng.choice(FILTERS)
            mine_items = ours.search(prefix, filter=where, limit=100)
            ref_items = theirs.search(prefix, filter=where, limit=100)
            assert as_set(mine_items) == as_set(ref_items), (seed, "search", prefix, where)
        else:
            depth = rng.choice([None, 1, 2])
            prefix = rng.choice([None, ("a",), ("a", "*")])
            suffix = rng.choice([None, ("c",), ("*",)])
            mine_ns = ours.list_namespaces(prefix=prefix, suffix=suffix, max_depth=depth)
            full = namespaces_holding_items(theirs)
            # InMemoryStore also lists namespaces emptied by deletes or only read.
            listed = theirs.list_namespaces(prefix=prefix, suffix=suffix)
            held = [n for n in listed if n in full]
            expected = sorted({n[:depth] for n in held}) if depth else sorted(held)
            assert mine_ns == expected, (seed, "list_namespaces", prefix, suffix, depth)
    return checks


@pytest.fixture
def memory() -> Iterator[Memory]:
    with Memory(provider="inmemory") as mem:
        yield mem


@pytest.mark.parametrize("seed", range(12))
def test_random_sequences_agree_with_langgraphs_in_memory_store(seed: int, memory: Memory) -> None:
    ours = OpenMemStore(memory, user_id="alice")
    assert run_sequence(seed, ours, InMemoryStore()) > 5


def test_random_sequences_agree_on_postgres(postgres_url: str, pg_namespace: str) -> None:
    options = {"url": postgres_url, "namespace": pg_namespace, "embedder": "hashing"}
    with Memory(provider="postgres", **options) as mem:
        ours = OpenMemStore(mem, user_id="alice")
        for seed in (100, 101):
            run_sequence(seed, ours, InMemoryStore())
            for ns in NAMESPACES:  # start each sequence empty, as the reference does
                for key in KEYS:
                    ours.delete(ns, key)


async def test_abatch_over_an_async_memory_reads_before_its_puts() -> None:
    async with AsyncMemory(provider="inmemory") as mem:
        store = OpenMemStore(mem, user_id="alice", index=["text"])
        ns = ("notes",)
        results = await store.abatch(
            [
                PutOp(ns, "n1", {"text": "likes green tea"}),
                GetOp(ns, "n1"),
                PutOp(ns, "n1", {"text": "likes black coffee"}),
            ]
        )
        assert results == [None, None, None]
        item = await store.aget(ns, "n1")
        assert item is not None
        assert item.value == {"text": "likes black coffee"}
        hits = await store.abatch([SearchOp(ns, query="coffee", limit=3)])
        (found,) = hits
        assert [h.key for h in found] == ["n1"]  # type: ignore[union-attr]
        assert found[0].score is not None  # type: ignore[index]


def test_labels_with_slashes_and_spaces_round_trip() -> None:
    for namespace in [("s/l", "*"), ("x y",), ("users", "100%")]:
        assert namespace_of(scope_of(namespace)) == namespace
