"""The mem0 drop-in side by side with real mem0 OSS (offline: embedded qdrant, hashing).

One script written against mem0's ``Memory`` runs against mem0 itself and against
``openmem.compat.mem0.Memory`` over the in-memory provider; with ids, times and scores
replaced by placeholders, the two transcripts must be equal. Both embed with openmem's
hashing embedder (the drop-in's provider through the shared ``lexical`` fixture), so even
which memories pass the search threshold is comparable.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from openmem_mem0._env import prepare_mem0_environment

from openmem.compat.mem0 import Memory as DropIn
from openmem.compat.mem0 import MemoryNotFoundError
from openmem.embedders.hashing import HashingEmbedder
from openmem.llm.fake import FakeChatServer, FakeLLM, FakeReply

MISSING = "00000000-0000-0000-0000-000000000000"
CONVERSATION = [
    {"role": "system", "content": "You are a travel agent."},
    {"role": "user", "content": "I live in Porto"},
    {"role": "assistant", "content": "Noted, Porto"},
]


def real_mem0(data_dir: Path, llm_url: str | None = None) -> Any:
    """mem0 OSS on embedded qdrant with openmem's hashing embedder (as the mem0 provider)."""
    prepare_mem0_environment(data_dir)
    from mem0 import Memory
    from openmem_mem0._oss import OpenmemEmbedding

    embedder = HashingEmbedder()
    llm = {"api_key": "sk-fake", "model": "fake"}
    if llm_url is not None:
        llm["openai_base_url"] = llm_url
    memory = Memory.from_config(
        {
            "vector_store": {
                "provider": "qdrant",
                "config": {
                    "collection_name": "dropin",
                    "embedding_model_dims": embedder.dim,
                    "path": str(data_dir / "qdrant"),
                    "on_disk": True,
                },
            },
            "embedder": {
                "provider": "openai",
                "config": {"api_key": "sk-unused", "embedding_dims": embedder.dim},
            },
            "llm": {"provider": "openai", "config": llm},
            "history_db_path": str(data_dir / "history.db"),
        }
    )
    # Hashing embeds synchronously: the loop is never run.
    memory.embedding_model = OpenmemEmbedding(embedder, asyncio.new_event_loop())
    return memory


def close_mem0(memory: Any) -> None:
    memory.close()
    client = getattr(memory.vector_store, "client", None)
    if client is not None:
        client.close()


def script(m: Any) -> list[Any]:
    """mem0 calls as a mem0 user writes them; returns what each call answered."""
    out: list[Any] = []

    def call(name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            result = getattr(m, name)(*args, **kwargs)
        except ValueError as exc:
            out.append((name, "ValueError", "not found" in str(exc)))
            return None
        out.append((name, result))
        return result

    tea = call("add", "I like tea", user_id="alice", metadata={"k": 1}, infer=False)
    call("add", CONVERSATION, user_id="alice", agent_id="planner", infer=False)
    call("add", {"role": "user", "content": "Bob plays chess"}, user_id="bob", infer=False)
    call("search", "tea", filters={"user_id": "alice"}, top_k=5)
    call("search", "Porto", filters={"user_id": "alice", "agent_id": "planner"}, top_k=5)
    call("search", "chess", filters={"user_id": "alice"}, top_k=5)
    call("get_all", filters={"user_id": "alice"})
    call("get_all", filters={"user_id": "alice", "agent_id": "planner"})
    call("get_all", filters={"user_id": "alice", "k": 1})
    tea_id = tea["results"][0]["id"]
    call("get", tea_id)
    call("update", tea_id, "I like green tea")
    call("get", tea_id)
    call("search", "green tea", filters={"user_id": "alice"}, top_k=1)
    call("delete", tea_id)
    call("get", tea_id)
    call("update", MISSING, "nothing")
    call("delete", MISSING)
    call("delete_all", user_id="alice")
    call("get_all", filters={"user_id": "alice"})
    call("get_all", filters={"user_id": "bob"})
    return out


def normalised(value: Any, ids: dict[str, str]) -> Any:
    """Ids as placeholders in order of appearance; times and scores as their presence."""
    if isinstance(value, dict):
        shaped: dict[str, Any] = {}
        for key, item in value.items():
            if key in ("id", "memory_id") and isinstance(item, str):
                shaped[key] = ids.setdefault(item, f"id{len(ids)}")
            elif key in ("created_at", "updated_at"):
                shaped[key] = item is not None
            elif key == "score":
                shaped[key] = None if item is None else round(float(item), 3)
            else:
                shaped[key] = normalised(item, ids)
        return shaped
    if isinstance(value, list | tuple):
        items = [normalised(v, ids) for v in value]
        return type(value)(items) if isinstance(value, tuple) else items
    return value


def ordered(transcript: list[Any]) -> list[Any]:
    """get_all's order is each backend's own (mem0 by id, openmem newest first)."""
    fixed: list[Any] = []
    for entry in transcript:
        if entry[0] == "get_all":
            rows = sorted(entry[1]["results"], key=lambda r: r["memory"])
            entry = ("get_all", {"results": rows})
        fixed.append(entry)
    return fixed


@pytest.fixture
def mem0_dir(tmp_path: Path) -> Path:
    return tmp_path / "mem0"


def test_the_same_mem0_script_gives_the_same_answers(
    mem0_dir: Path, lexical: Mapping[str, str]
) -> None:
    theirs = real_mem0(mem0_dir)
    try:
        expected = ordered(script(theirs))
    finally:
        close_mem0(theirs)
    with DropIn(provider="inmemory", **lexical) as ours:
        got = ordered(script(ours))
    assert normalised(got, {}) == normalised(expected, {})


def test_the_hash_is_mem0s_md5_of_the_text(mem0_dir: Path) -> None:
    with DropIn(provider="inmemory") as ours:
        added = ours.add("I like tea", user_id="alice", infer=False)
        got = ours.get(added["results"][0]["id"])
    assert got is not None
    assert got["hash"] == hashlib.md5(b"I like tea").hexdigest()


def test_infer_true_goes_through_the_inference_pipeline(mem0_dir: Path) -> None:
    """mem0 and the drop-in each ask their chat model (fakes speaking each one's prompts)."""
    conversation = [{"role": "user", "content": "Hi! I live in Lisbon."}]
    mem0_answer = FakeReply.json({"memory": [{"text": "Lives in Lisbon"}]})
    with FakeChatServer(lambda body: mem0_answer) as mem0_llm:
        theirs = real_mem0(mem0_dir, llm_url=mem0_llm.url)
        try:
            expected = theirs.add(conversation, user_id="alice")
        finally:
            close_mem0(theirs)
    with FakeChatServer(FakeLLM(facts={"lisbon": ["Lives in Lisbon"]})) as our_llm:
        llm = {"base_url": our_llm.url, "model": "fake"}
        with DropIn(provider="inmemory", llm=llm) as ours:
            got = ours.add(conversation, user_id="alice")
            assert our_llm.requests, "the drop-in did not ask its chat model"
            stored = ours.get_all(filters={"user_id": "alice"})
    pick = [{k: r[k] for k in ("memory", "event")} for r in got["results"]]
    assert pick == [{k: r[k] for k in ("memory", "event")} for r in expected["results"]]
    assert [r["memory"] for r in stored["results"]] == ["Lives in Lisbon"]


def test_an_unknown_id_is_not_found_as_mem0_says_it() -> None:
    with DropIn(provider="inmemory") as ours:
        assert ours.get(MISSING) is None
        with pytest.raises(MemoryNotFoundError):
            ours.delete(MISSING)
        with pytest.raises(ValueError, match="not found"):
            ours.update(MISSING, "x")
