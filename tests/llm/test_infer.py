"""add(messages=..., infer=...) on the in-memory provider, with a FAKE chat model."""

from __future__ import annotations

import asyncio

import pytest

from openmem import AsyncMemory
from openmem.errors import (
    ConfigurationError,
    InvalidRequestError,
    InvalidResponseError,
    ProviderUnavailableError,
)
from openmem.llm import INFER_METADATA_KEY
from openmem.llm.fake import FakeChatServer, FakeLLM, FakeReply

LISBON = [{"role": "user", "content": "Hi! I live in Lisbon."}]
PORTO = [
    {"role": "user", "content": "Guess what, I moved to Porto last month."},
    {"role": "assistant", "content": "Congratulations on the move!"},
]


def lisbon_then_porto() -> FakeLLM:
    return FakeLLM(
        facts={"live in lisbon": ["Lives in Lisbon"], "moved to porto": ["Lives in Porto"]},
        replaces={"Lives in Porto": "Lisbon"},
    )


async def test_a_move_supersedes_the_old_home_with_audited_reasons(
    fake_llm: FakeChatServer, mem: AsyncMemory
) -> None:
    fake_llm.responder = lisbon_then_porto()
    (lisbon,) = await mem.add(messages=LISBON, user_id="u1", infer=True)
    (porto,) = await mem.add(messages=PORTO, user_id="u1", infer=True)

    assert porto.content == "Lives in Porto"
    assert porto.supersedes == [lisbon.id]
    hits = await mem.search("where does the user live", "u1")
    assert [h.memory.id for h in hits] == [porto.id]
    retired = await mem.get(lisbon.id, user_id="u1")
    assert retired.valid_to is not None

    trail = [e for e in await mem.audit("u1") if "infer" in e.details]
    decisions = {(e.action, e.memory_id, e.details["infer"]["event"]) for e in trail}
    assert decisions == {
        ("add", lisbon.id, "ADD"),
        ("update", lisbon.id, "DELETE"),
        ("add", porto.id, "DELETE"),
    }
    supersede = next(e.details["infer"] for e in trail if e.action == "update")
    assert supersede["before"] == "Lives in Lisbon"
    assert supersede["after"] == "Lives in Porto"
    assert supersede["reason"] == "contradicts the stored memory: Lives in Porto"
    added = next(
        e.details["infer"] for e in trail if e.memory_id == lisbon.id and e.action == "add"
    )
    assert added["reason"] == "no similar memory is stored"
    assert added["before"] is None
    assert added["after"] == "Lives in Lisbon"


async def test_the_same_fact_said_three_ways_leaves_one_memory(
    fake_llm: FakeChatServer, mem: AsyncMemory
) -> None:
    ways = ["Loves hiking", "Enjoys going on hikes", "Hiking is a favourite hobby"]
    fake_llm.responder = FakeLLM(
        facts={"love hiking": [ways[0]], "go on hikes": [ways[1]], "to hike": [ways[2]]},
        same=[ways],
    )
    said = ["I love hiking", "On weekends I go on hikes", "My favourite hobby? To hike"]
    written = []
    for text in said:
        written += await mem.add(
            messages=[{"role": "user", "content": text}], user_id="u1", infer=True
        )

    page = await mem.list("u1")
    assert [r.content for r in page.items] == ["Loves hiking"]
    assert len(written) == 1
    nones = [e for e in await mem.audit("u1") if e.details.get("infer", {}).get("event") == "NONE"]
    assert len(nones) == 2
    assert {e.memory_id for e in nones} == {page.items[0].id}


async def test_inferred_memories_record_model_prompts_and_fields(
    fake_llm: FakeChatServer, mem: AsyncMemory
) -> None:
    fake_llm.responder = lisbon_then_porto()
    (record,) = await mem.add(
        messages=LISBON, user_id="u1", infer=True, scope="profile", tags=["home"], metadata={"k": 1}
    )
    assert record.scope == "profile"
    assert record.tags == ["home"]
    assert record.metadata["k"] == 1
    assert record.metadata[INFER_METADATA_KEY] == {
        "model": "fake-model",
        "prompts": "extract.v1+decide.v1",
    }
    assert record.source is not None
    assert record.source.type == "extracted"


async def test_an_update_rewrites_the_memory_and_audits_before_and_after(
    fake_llm: FakeChatServer, mem: AsyncMemory
) -> None:
    fake_llm.script(FakeReply.json({"facts": ["Likes pizza"]}))
    (pizza,) = await mem.add(
        messages=[{"role": "user", "content": "pizza!"}], user_id="u1", infer=True
    )
    fake_llm.script(
        FakeReply.json({"facts": ["Likes pepperoni pizza"]}),
        FakeReply.json(
            {
                "decisions": [
                    {
                        "fact": 0,
                        "event": "UPDATE",
                        "memory": 0,
                        "text": "Likes pizza, pepperoni above all",
                        "reason": "refines the pizza preference",
                    }
                ]
            }
        ),
    )
    (updated,) = await mem.add(
        messages=[{"role": "user", "content": "pepperoni"}], user_id="u1", infer=True
    )
    assert updated.id == pizza.id
    assert updated.content == "Likes pizza, pepperoni above all"
    entry = (await mem.audit("u1", action="update"))[0]
    assert entry.details["infer"]["before"] == "Likes pizza"
    assert entry.details["infer"]["after"] == "Likes pizza, pepperoni above all"
    assert entry.details["infer"]["reason"] == "refines the pizza preference"


async def test_a_decision_naming_an_unknown_memory_is_repaired_once(
    fake_llm: FakeChatServer, mem: AsyncMemory
) -> None:
    fake_llm.script(FakeReply.json({"facts": ["Likes tea"]}))
    await mem.add(messages=[{"role": "user", "content": "tea"}], user_id="u1", infer=True)
    bad = {"decisions": [{"fact": 0, "event": "NONE", "memory": 7, "reason": "?"}]}
    fake_llm.script(
        FakeReply.json({"facts": ["Drinks tea"]}), FakeReply.json(bad), FakeReply.json(bad)
    )
    with pytest.raises(InvalidResponseError):
        await mem.add(messages=[{"role": "user", "content": "tea again"}], user_id="u1", infer=True)
    assert len((await mem.list("u1")).items) == 1


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param([FakeReply(content="{}", delay=1.5)], id="timeout"),
        pytest.param([FakeReply(status=500)] * 3, id="500"),
        pytest.param([FakeReply(content="not json")] * 2, id="malformed"),
    ],
)
async def test_an_llm_failure_is_typed_and_writes_nothing(
    fake_llm: FakeChatServer, mem: AsyncMemory, failure: list[FakeReply]
) -> None:
    await mem.add("an earlier memory", user_id="u1")
    before = await mem.audit("u1")
    fake_llm.script(*failure)
    with pytest.raises((ProviderUnavailableError, InvalidResponseError)) as caught:
        await mem.add(messages=LISBON, user_id="u1", infer=True)
    assert caught.value.error_code in {"provider_unavailable", "invalid_response"}
    assert [r.content for r in (await mem.list("u1")).items] == ["an earlier memory"]
    writes = [e for e in await mem.audit("u1") if e.action != "list"]
    assert [e.id for e in writes] == [e.id for e in before if e.action != "list"]


async def test_a_failing_decide_step_writes_nothing(
    fake_llm: FakeChatServer, mem: AsyncMemory
) -> None:
    fake_llm.responder = lisbon_then_porto()
    await mem.add(messages=LISBON, user_id="u1", infer=True)
    fake_llm.responder = None
    fake_llm.script(FakeReply.json({"facts": ["Lives in Porto"]}), *[FakeReply(status=502)] * 3)
    with pytest.raises(ProviderUnavailableError):
        await mem.add(messages=PORTO, user_id="u1", infer=True)
    (only,) = (await mem.list("u1")).items
    assert only.content == "Lives in Lisbon"
    assert only.valid_to is None


async def test_a_cancelled_infer_leaves_nothing_half_applied(
    fake_llm: FakeChatServer, mem: AsyncMemory
) -> None:
    fake_llm.responder = lisbon_then_porto()
    await mem.add(messages=LISBON, user_id="u1", infer=True)
    before = (await mem.list("u1")).items
    for step in (1, 2):  # cancel while extracting, then while deciding
        fake_llm.requests.clear()
        slow = FakeLLM(
            facts={"moved to porto": ["Lives in Porto"]}, replaces={"Lives in Porto": "Lisbon"}
        )

        def delayed(body: dict[str, object], slow: FakeLLM = slow, step: int = step) -> FakeReply:
            reply = slow(body)
            if len(fake_llm.requests) == step:
                return FakeReply(content=reply.content, delay=1.0)
            return reply

        fake_llm.responder = delayed
        task = asyncio.create_task(mem.add(messages=PORTO, user_id="u1", infer=True))
        await fake_llm.wait_for_requests(step)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await mem.list("u1")).items == before


async def test_without_infer_each_user_message_is_stored_as_is(mem: AsyncMemory) -> None:
    records = await mem.add(messages=PORTO + LISBON, user_id="u1", scope="chat")
    assert [r.content for r in records] == [PORTO[0]["content"], LISBON[0]["content"]]
    assert all(r.scope == "chat" for r in records)


async def test_infer_without_a_chat_model_is_a_configuration_error() -> None:
    async with AsyncMemory(provider="inmemory") as mem:
        with pytest.raises(ConfigurationError, match="needs a chat model"):
            await mem.add(messages=LISBON, user_id="u1", infer=True)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"messages": []}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"role": "boss", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": ""}]}, "messages.0.content"),
        ({"messages": [{"role": "user", "content": "x", "extra": 1}]}, "messages.0"),
        ({"content": "x", "messages": LISBON}, "content"),
        ({"content": "x", "infer": True}, "infer"),
    ],
)
async def test_bad_conversations_are_invalid_requests(
    mem: AsyncMemory, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        await mem.add(user_id="u1", **kwargs)  # type: ignore[call-overload]
    assert caught.value.field == field
