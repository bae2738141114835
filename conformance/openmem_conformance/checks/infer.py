"""OPTIONAL ``infer``: the openmem infer pipeline on a provider that declares it.

Run when ``features.infer == "pipeline"``. The chat model is the suite's own FAKE
chat-completions server (``openmem.llm.fake``), scripted by rules, so the checks are
deterministic and offline; what they test is the provider's side: searching the user's
memories for the pipeline and applying its decisions atomically, with their audit entries.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from openmem.errors import InvalidResponseError, ProviderUnavailableError
from openmem.llm import ChatClient, ChatMessage, InferencePipeline
from openmem.llm.fake import FakeChatServer, FakeLLM, FakeReply
from openmem.models import MemoryRecord
from openmem_conformance.check_context import CheckContext
from openmem_conformance.registry import Tier, check

LISBON = [ChatMessage(role="user", content="Hi! I live in Lisbon.")]
PORTO = [ChatMessage(role="user", content="Big news: I moved to Porto last month.")]
HOME_RULES = FakeLLM(
    facts={"live in lisbon": ["Lives in Lisbon"], "moved to porto": ["Lives in Porto"]},
    replaces={"Lives in Porto": "Lisbon"},
)


@asynccontextmanager
async def _pipeline(
    rules: FakeLLM | None,
) -> AsyncIterator[tuple[FakeChatServer, InferencePipeline]]:
    with FakeChatServer(rules) as server:
        async with ChatClient(
            base_url=server.url, model="conformance-fake", timeout=2.0, max_retries=1
        ) as client:
            yield server, InferencePipeline(client)


async def _active(ctx: CheckContext, user: str) -> list[MemoryRecord]:
    hits = await ctx.mem.search("where does the user live", user, limit=20)
    return [h.memory for h in hits]


@check(Tier.OPTIONAL, requires=("infer:pipeline",))
async def infer_supersedes_a_contradicted_memory(ctx: CheckContext) -> None:
    """ "Lives in Lisbon" then "moved to Porto": one active memory, Lisbon superseded, audited.

    Troubleshooting: implement ``Provider.apply_decisions`` as ``openmem.llm.decisions``
    describes: a DELETE retires the target (``valid_to`` = now) and stores the new memory
    with ``supersedes=[target]``; each write gets an audit entry whose ``details["infer"]``
    is ``Decision.audit_details()`` (event, before, after, reason, model, prompts).
    """
    user = ctx.user()
    caller = ctx.caller(user)
    async with _pipeline(HOME_RULES) as (_, pipeline):
        (lisbon,) = await pipeline.run(ctx.raw, caller, LISBON)
        (porto,) = await pipeline.run(ctx.raw, caller, PORTO)
    assert porto.content == "Lives in Porto", f"stored {porto.content!r}"
    assert porto.supersedes == [lisbon.id], f"supersedes is {porto.supersedes}"
    active = await _active(ctx, user)
    assert [m.id for m in active] == [porto.id], (
        f"active memories are {[m.content for m in active]}, expected only Porto"
    )
    retired = await ctx.mem.get(lisbon.id, user_id=user)
    assert retired.valid_to is not None, "the superseded memory is still valid"
    assert porto.metadata.get("openmem_infer", {}).get("model") == "conformance-fake", (
        "the inferred memory does not record its model"
    )
    if not ctx.capabilities.features.supports_audit:
        return
    trail = [e for e in await ctx.mem.audit(user) if "infer" in e.details]
    events = sorted((e.action, e.memory_id, e.details["infer"]["event"]) for e in trail)
    expected = sorted(
        [("add", lisbon.id, "ADD"), ("update", lisbon.id, "DELETE"), ("add", porto.id, "DELETE")]
    )
    assert events == expected, f"audited decisions {events}, expected {expected}"
    for entry in trail:
        decision = entry.details["infer"]
        assert decision["reason"], f"{entry.action} of {entry.memory_id} has no reason"
    supersede = next(e.details["infer"] for e in trail if e.action == "update")
    assert (supersede["before"], supersede["after"]) == ("Lives in Lisbon", "Lives in Porto")


@check(Tier.OPTIONAL, requires=("infer:pipeline",))
async def infer_keeps_one_memory_of_a_fact_said_three_ways(ctx: CheckContext) -> None:
    """The same fact in three conversations, three wordings: one memory, two NONE decisions.

    Troubleshooting: the pipeline finds the stored memory through ``search`` (the user's
    active memories, any mode) and the decision NONE writes nothing but its audit entry.
    """
    ways = ["Loves hiking", "Enjoys going on hikes", "Hiking is a favourite hobby"]
    rules = FakeLLM(
        facts={"love hiking": [ways[0]], "go on hikes": [ways[1]], "to hike": [ways[2]]},
        same=[ways],
    )
    user = ctx.user()
    caller = ctx.caller(user)
    async with _pipeline(rules) as (_, pipeline):
        for text in ("I love hiking", "Weekends? I go on hikes", "My hobby is to hike"):
            await pipeline.run(ctx.raw, caller, [ChatMessage(role="user", content=text)])
    stored = await ctx.list_all(user)
    assert [m.content for m in stored] == ["Loves hiking"], (
        f"stored {[m.content for m in stored]}, expected one memory"
    )


@check(Tier.OPTIONAL, requires=("infer:pipeline",))
async def infer_failures_write_nothing(ctx: CheckContext) -> None:
    """A 500 or malformed output from the LLM is a typed error and nothing is written.

    Troubleshooting: nothing may be written before ``apply_decisions``; the pipeline only
    reads (``search``) while it talks to the model.
    """
    user = ctx.user()
    caller = ctx.caller(user)
    await ctx.add("Lives in Lisbon", user_id=user)
    before = await ctx.list_all(user)
    async with _pipeline(HOME_RULES) as (server, pipeline):
        for failure, error in (
            ([FakeReply(status=500)] * 2, ProviderUnavailableError),
            ([FakeReply(content="no json here")] * 2, InvalidResponseError),
            ([FakeReply.json({"facts": ["Lives in Porto"]}), *[FakeReply(status=503)] * 2], None),
        ):
            server.script(*failure)
            raised: Exception | None = None
            try:
                await pipeline.run(ctx.raw, caller, PORTO)
            except (ProviderUnavailableError, InvalidResponseError) as exc:
                raised = exc
            assert raised is not None, f"an LLM failure ({failure[-1]}) raised nothing"
            assert error is None or isinstance(raised, error), f"raised {raised!r}"
            after = await ctx.list_all(user)
            assert after == before, "a failed inference changed the stored memories"


@check(Tier.OPTIONAL, requires=("infer:pipeline",))
async def infer_cancelled_apply_is_all_or_nothing(ctx: CheckContext) -> None:
    """Cancelling apply_decisions() at any point leaves all of it or none of it.

    Troubleshooting: apply every decision in one transaction (or between two awaits) and
    let a cancellation roll it back; the retirement of the old memory and the new memory
    must never be seen one without the other.
    """
    async with _pipeline(HOME_RULES) as (_, pipeline):
        for delay_ms in (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0):
            user = ctx.user()
            caller = ctx.caller(user)
            await pipeline.run(ctx.raw, caller, LISBON)
            decisions = await pipeline.plan(ctx.raw, caller, PORTO)
            task = asyncio.create_task(ctx.raw.apply_decisions(caller, decisions))
            await asyncio.sleep(delay_ms / 1000)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            stored = await ctx.list_all(user)
            contents = sorted(m.content for m in stored)
            retired = [m for m in stored if m.valid_to is not None]
            if contents == ["Lives in Lisbon"]:
                assert not retired, f"cancel after {delay_ms} ms: Lisbon retired, Porto missing"
            else:
                assert contents == ["Lives in Lisbon", "Lives in Porto"], (
                    f"cancel after {delay_ms} ms left {contents}"
                )
                assert [m.content for m in retired] == ["Lives in Lisbon"], (
                    f"cancel after {delay_ms} ms: Porto stored but Lisbon not retired"
                )
