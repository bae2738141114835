"""The suite catches each class of defect it claims to catch.

Each broken provider is the in-memory reference with exactly one defect; the matching
checks must fail on it, while the reference itself passes them (tests/test_conformance_
inmemory.py), so the failure is the defect's doing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from functools import partial

import pytest
from openmem_conformance import CHECKS, ConformanceLevel, Outcome, Tier, validate
from openmem_conformance.data_defects import (
    CursorIgnoresIdOnTies,
    FilterKeysIgnoreCase,
    FiltersCompareAsFloats,
    FiltersMatchSubstrings,
    HybridIsKeywordOnly,
)
from openmem_conformance.defects import (
    AddAnswersAnotherId,
    AuditFlagWithoutVerb,
    AuditSkipsReads,
    BatchAnswersOutOfOrder,
    ConflictingIdempotencyKeyReturnsFirst,
    ContextOverBudget,
    CountsWordsNotTokens,
    CrashesOnNulId,
    CursorOnWholeSeconds,
    DeclaresGraphQueries,
    DeclaresKeywordButSearchesVectors,
    DeclaresRateLimitItDoesNotEnforce,
    DeleteLeavesSearchIndex,
    DropsProvenance,
    EmptyLastPage,
    EmptyUserIsNotFound,
    EventsIgnoreUser,
    FiltersCompareAsText,
    FlagsNothing,
    ForeignServerSearchesInactiveToo,
    ForgetUserCountsNothing,
    ForgetUserIgnoresNamespace,
    GetIgnoresUser,
    HangsForever,
    HonestForeignServer,
    HybridIsSemanticOnly,
    IgnoresCancellation,
    LeaksASocket,
    ListIgnoresTimeWindow,
    ListsOldestFirst,
    LosesConcurrentWrites,
    NamespacesShared,
    NonAtomicAdd,
    OffsetCursor,
    OverstatesContentLimit,
    PartialUpdateOnBadInput,
    QueuedAddsReference,
    QueuedWithoutEvent,
    QueuesWithoutDeclaring,
    QueueWritesTwice,
    RateLimitsWithoutDeclaring,
    RawUndeclaredAuditDoesIO,
    RefusesSemanticMode,
    ScopeFilterIsAPrefix,
    ScoresAboveOne,
    SearchesInactiveToo,
    SearchIgnoresUser,
    SwallowsCancellation,
    TagFilterAfterLimit,
    UnstableCapabilities,
    UntypedNotFound,
    UpdateIgnoresTags,
)
from openmem_conformance.key_defects import KEY_DEFECTS
from openmem_conformance.runner import run_one

from openmem.errors import RateLimitedError
from openmem.inmemory import InMemoryProvider
from openmem.models import Capabilities, ListQuery, MemoryPage
from openmem.provider import Caller

DEFECTS: list[tuple[type[InMemoryProvider], str, str]] = [
    # (broken provider, the check that must fail, what its message must say)
    (SearchIgnoresUser, "users_never_see_each_other", "search returns another user's"),
    (SearchIgnoresUser, "concurrent_mixed_verbs_lose_and_leak_nothing", "leaks under concurrency"),
    (GetIgnoresUser, "users_never_see_each_other", "get of another user's memory"),
    (
        ForeignServerSearchesInactiveToo,
        "declared_features_are_honoured_on_the_wire",
        "declared but not honoured: temporal",
    ),
    (
        LosesConcurrentWrites,
        "concurrent_mixed_verbs_lose_and_leak_nothing",
        "differs from what was acknowledged",
    ),
    (NamespacesShared, "namespaces_never_see_each_other", "in another namespace"),
    (EmptyLastPage, "list_pagination_is_complete", "an empty page"),
    (CursorOnWholeSeconds, "list_pagination_survives_ties_deletes_and_limits", "skipped"),
    (OffsetCursor, "list_pagination_survives_ties_deletes_and_limits", "after a delete"),
    (OffsetCursor, "list_pagination_is_stable_under_concurrent_inserts", "appeared twice"),
    (IgnoresCancellation, "cancellation_is_prompt_at_random_moments", "the budget is 10 ms"),
    (SwallowsCancellation, "cancellation_is_prompt_at_random_moments", "swallowed"),
    (SwallowsCancellation, "cancellation_at_every_await_point_is_atomic", "returned normally"),
    (NonAtomicAdd, "cancellation_at_every_await_point_is_atomic", "without its audit entry"),
    (LeaksASocket, "cancellation_is_prompt_at_random_moments", "file descriptor"),
    (DeclaresKeywordButSearchesVectors, "keyword_search_matches_terms", "without the term"),
    (PartialUpdateOnBadInput, "bad_input_is_refused_and_writes_nothing", "wrote part of itself"),
    (ContextOverBudget, "context_stays_within_its_token_budget", "token_count is"),
    (AuditSkipsReads, "audit_records_every_verb", "audit lacks entries"),
    (OverstatesContentLimit, "declared_limits_are_accepted", "content is too long"),
    (TagFilterAfterLimit, "search_filters_by_tags", "leaves the page short"),
    (DeleteLeavesSearchIndex, "delete_removes_from_every_read", "search still returns"),
    (ScoresAboveOne, "search_results_are_well_formed", "score outside [0, 1]"),
    (UntypedNotFound, "by_id_verbs_on_unknown_id_raise_not_found", "untyped KeyError"),
    (UpdateIgnoresTags, "update_is_a_merge_patch", "tags are"),
    (UpdateIgnoresTags, "agrees_with_the_reference_model", "differs from model"),
    (
        RawUndeclaredAuditDoesIO,
        "undeclared_verbs_of_the_raw_provider_refuse_without_io",
        "suspended",
    ),
    (
        ConflictingIdempotencyKeyReturnsFirst,
        "idempotency_key_never_duplicates",
        "expected an error with code conflict",
    ),
    (CountsWordsNotTokens, "context_stays_within_its_token_budget", "§6.8 counter"),
    (CrashesOnNulId, "bad_input_is_refused_and_writes_nothing", "raw get, NUL in id"),
    (DeclaresGraphQueries, "only_provable_features_are_declared", "graph_queries"),
    (QueuedWithoutEvent, "async_add_is_queued_and_its_event_succeeds", "without an event_id"),
    (QueueWritesTwice, "async_batch_writes_each_item_exactly_once", "for 5 items"),
    (EventsIgnoreUser, "events_are_bounded_by_user", "another user's event"),
    (AuditFlagWithoutVerb, "only_provable_features_are_declared", "without the audit verb"),
    (DeclaresRateLimitItDoesNotEnforce, "rate_limit_matches_the_declaration", "none was"),
    (RateLimitsWithoutDeclaring, "rate_limit_matches_the_declaration", "no rate_limit"),
    (DropsProvenance, "add_keeps_provenance_fields", "agent_id is None"),
    (FiltersCompareAsText, "metadata_filters_match_by_equality", "typed equality"),
    (AddAnswersAnotherId, "add_returns_the_stored_record", "not found"),
    (ListsOldestFirst, "list_is_newest_first", "not ordered newest first"),
    (ListIgnoresTimeWindow, "list_filters_by_scope_tags_and_time", "list since leaves out"),
    (EmptyUserIsNotFound, "search_of_an_empty_user_returns_nothing", "no such user"),
    (SearchesInactiveToo, "temporal_validity_filters_search", "an expired memory"),
    (SearchesInactiveToo, "superseded_memories_leave_search", "superseded memory"),
    (ForgetUserCountsNothing, "forget_user_deletes_only_that_user", "returned 0"),
    (BatchAnswersOutOfOrder, "batch_add_stores_every_item_in_order", "out of order"),
    (RefusesSemanticMode, "semantic_search_is_available", "not configured"),
    (RefusesSemanticMode, "declared_capabilities_do_not_refuse", "semantic search refused"),
    (ScopeFilterIsAPrefix, "scope_grammar_is_the_same_on_every_read", "outsiders"),
    (UnstableCapabilities, "capabilities_are_well_formed", "changed between two calls"),
    (ForgetUserIgnoresNamespace, "namespaces_never_see_each_other", "changed this namespace"),
    (QueuesWithoutDeclaring, "ingestion_status_matches_the_declaration", "without declaring"),
    (HybridIsSemanticOnly, "hybrid_search_finds_what_either_half_finds", "keyword half does not"),
    (HybridIsKeywordOnly, "hybrid_search_finds_what_either_half_finds", "vector half does not"),
    (CursorIgnoresIdOnTies, "list_pagination_survives_ties_deletes_and_limits", "skipped"),
    (FiltersCompareAsFloats, "metadata_filters_match_by_equality", "filters={'n': 9007199254740"),
    (FilterKeysIgnoreCase, "metadata_filters_match_by_equality", "filters={'Ключ'"),
    (FiltersMatchSubstrings, "metadata_filters_match_by_equality", "filters={'k': 'A'}"),
    *KEY_DEFECTS,
]


@pytest.fixture(autouse=True, scope="module")
def _close_leaked_sockets() -> object:
    yield
    for sock in LeaksASocket.leaked:
        sock.close()


@pytest.mark.parametrize(
    ("broken", "check_name", "reason"),
    DEFECTS,
    ids=[f"{cls.__name__}-{name}" for cls, name, _ in DEFECTS],
)
async def test_defect_fails_its_check(
    broken: type[InMemoryProvider], check_name: str, reason: str
) -> None:
    result = await run_one(CHECKS[check_name], broken)
    assert result.outcome is Outcome.FAILED, f"{broken.__name__} passed {check_name}"
    assert reason in result.message


class EnforcesItsRateLimit(InMemoryProvider):
    """The reference with a declared limit of 50 calls a minute per user, enforced."""

    LIMIT = 50

    def __init__(self) -> None:
        super().__init__()
        self._calls: dict[str, list[float]] = {}

    async def capabilities(self) -> Capabilities:
        caps = await super().capabilities()
        limits = caps.limits.model_copy(update={"rate_limit_per_minute": self.LIMIT})
        return caps.model_copy(update={"limits": limits})

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        now = time.monotonic()
        recent = [t for t in self._calls.get(caller.user_id, []) if now - t < 60]
        if len(recent) >= self.LIMIT:
            raise RateLimitedError("too many calls", retry_after=60 - (now - recent[0]))
        self._calls[caller.user_id] = [*recent, now]
        return await super().list(caller, query)


@pytest.mark.parametrize("check_name", sorted({name for _, name, _ in DEFECTS}))
async def test_reference_passes_the_checks_that_catch_defects(check_name: str) -> None:
    check = CHECKS[check_name]
    queued = "feature:async_ingest" in check.requires
    # The wire check grades foreign OMP servers only: its reference is an honest one.
    wire = check_name == "declared_features_are_honoured_on_the_wire"
    reference = QueuedAddsReference if queued else HonestForeignServer if wire else InMemoryProvider
    result = await run_one(check, reference)
    assert result.outcome is Outcome.PASSED, result.message


async def test_a_hanging_verb_fails_instead_of_stalling() -> None:
    check = dataclasses.replace(CHECKS["by_id_verbs_on_unknown_id_raise_not_found"], timeout=1.0)
    result = await run_one(check, HangsForever)
    assert result.outcome is Outcome.FAILED
    assert "did not finish within 1 s" in result.message


async def test_slow_cancellation_is_reported_with_its_latency() -> None:
    result = await run_one(CHECKS["cancellation_is_prompt_at_random_moments"], IgnoresCancellation)
    assert "budget is 10 ms" in result.message
    assert result.details["cancel_p99_ms"] > 10


async def test_a_generous_budget_lets_slow_cancellation_pass() -> None:
    check = CHECKS["cancellation_is_prompt_at_random_moments"]
    result = await run_one(check, IgnoresCancellation, budget_ms=500)
    assert result.outcome is Outcome.PASSED, result.message


# The whole-suite runs below prove the grading (which tier a failure lands in, what level it
# makes), to which the embedder is irrelevant: they take the ``lexical`` fixture's instant
# embedder. The defects above run on the semantic default, as the reference does.


async def test_undeclared_capabilities_are_skipped_not_failed(lexical: Mapping[str, str]) -> None:
    report = await validate(partial(FlagsNothing, **lexical))
    optional = report.by_tier(Tier.OPTIONAL)
    assert optional
    assert all(r.outcome is Outcome.SKIPPED for r in optional)
    assert all("not declared" in r.message for r in optional)
    assert report.level() is ConformanceLevel.NATIVE, [r.name for r in report.failed()]


async def test_a_leak_between_users_makes_the_level_partial(lexical: Mapping[str, str]) -> None:
    report = await validate(partial(SearchIgnoresUser, **lexical))
    assert report.level() is ConformanceLevel.PARTIAL
    assert not report.passed_required()


async def test_slow_cancellation_alone_makes_the_level_compatible(
    lexical: Mapping[str, str],
) -> None:
    checks = [c for c in CHECKS.values() if c.name != "agrees_with_the_reference_model"]
    report = await validate(partial(IgnoresCancellation, **lexical), checks=checks)
    failed = {r.name for r in report.failed()}
    assert failed == {"cancellation_is_prompt_at_random_moments"}
    assert report.level() is ConformanceLevel.COMPATIBLE


async def test_an_enforced_declared_rate_limit_passes() -> None:
    result = await run_one(CHECKS["rate_limit_matches_the_declaration"], EnforcesItsRateLimit)
    assert result.outcome is Outcome.PASSED, result.message
    assert result.details["calls_until_refused"] == EnforcesItsRateLimit.LIMIT + 1


# Checks no provider defect can reach: they prove what AsyncMemory does before any
# provider call (argument validation, the capability gate, loop binding, close).
FRONT_END_CHECKS = {
    "invalid_arguments_raise_invalid_request",
    "undeclared_capabilities_are_refused_before_any_io",
    "another_event_loop_is_refused_before_any_call",
    "close_is_idempotent_and_final",
}


def test_mutation_score_every_provider_facing_check_has_a_defect() -> None:
    """The suite's mutation score: each check that a provider can fail has a defect."""
    caught = {name for _, name, _ in DEFECTS}
    # The infer group (another issue's, added with its fake chat model) is scored there.
    scored = {n for n, c in CHECKS.items() if not c.func.__module__.endswith(".infer")}
    uncovered = scored - caught - FRONT_END_CHECKS
    assert not uncovered, f"checks without a defect that proves they can fail: {uncovered}"
    assert len(caught & scored) / len(scored - FRONT_END_CHECKS) >= 0.97
