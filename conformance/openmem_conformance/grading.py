"""What each check grades: OMP 0.1 core or an openmem extension, and the spec clause it proves.

A foreign OMP server (one that does not announce openmem's extensions in its capabilities,
``x-openmem``) is graded on the core only: a check of an openmem extension, or of a rule
openmem tightens on purpose (spec/omp.md §13), is reported as "not offered" there and never
run, so a server is not failed for what it never promised. A core failure names the clause
of spec/omp.md it breaks.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from openmem.provider import Provider

__all__ = ["GRADES", "Grade", "Standard", "grade_of", "offers_openmem_extensions"]


class Standard(enum.StrEnum):
    """Which promise a check holds a provider to."""

    CORE = "core"
    """OMP 0.1 itself: every OMP server must pass."""
    EXTENSION = "extension"
    """An openmem extension, or a rule openmem tightens (spec/omp.md §13)."""


@dataclass(frozen=True)
class Grade:
    """A check's standard and the clause of spec/omp.md it proves."""

    standard: Standard
    clause: str


_CORE, _EXT = Standard.CORE, Standard.EXTENSION

GRADES: dict[str, Grade] = {
    "capabilities_are_well_formed": Grade(_CORE, "§7 Capabilities"),
    "add_returns_the_stored_record": Grade(_CORE, "§6.1 add"),
    "add_keeps_provenance_fields": Grade(_EXT, "§2.1 MemoryRecord (agent_id, session_id)"),
    "by_id_verbs_on_unknown_id_raise_not_found": Grade(_CORE, "§6.3 get, update, delete"),
    "update_is_a_merge_patch": Grade(_EXT, "§2.3 MemoryPatch (merge patch, §13)"),
    "delete_removes_from_every_read": Grade(_CORE, "§6.3 get, update, delete"),
    "search_results_are_well_formed": Grade(_CORE, "§6.5 search (score in [0, 1])"),
    "search_of_an_empty_user_returns_nothing": Grade(_CORE, "§6.5 search"),
    "invalid_arguments_raise_invalid_request": Grade(_CORE, "§8 Errors"),
    "list_is_newest_first": Grade(_CORE, "§6.4 list"),
    "list_pagination_is_complete": Grade(_EXT, "§6.4 list (no empty last page, §13)"),
    "list_pagination_is_stable_under_concurrent_inserts": Grade(_CORE, "§6.4 list"),
    "list_pagination_survives_ties_deletes_and_limits": Grade(_CORE, "§6.4 list"),
    "list_filters_by_scope_tags_and_time": Grade(_EXT, "§4 Scope grammar (§13)"),
    "search_filters_by_tags": Grade(_EXT, "§6.5 search (tags)"),
    "scope_grammar_is_the_same_on_every_read": Grade(_EXT, "§4 Scope grammar (§13)"),
    "users_never_see_each_other": Grade(_CORE, "§3 Identity and tenancy"),
    "namespaces_never_see_each_other": Grade(_EXT, "§3 Identity and tenancy (namespaces)"),
    "close_is_idempotent_and_final": Grade(_CORE, "§11 Async and cancellation contracts"),
    "another_event_loop_is_refused_before_any_call": Grade(
        _CORE, "§11 Async and cancellation contracts"
    ),
    "agrees_with_the_reference_model": Grade(_EXT, "§6 Verb semantics (openmem's model)"),
    "context_stays_within_its_token_budget": Grade(_EXT, "§6.8 Context budget (§13)"),
    "audit_records_every_verb": Grade(_CORE, "§6.7 audit"),
    "temporal_validity_filters_search": Grade(_EXT, "§6.5 search (include_inactive)"),
    "superseded_memories_leave_search": Grade(_EXT, "§6.5 search (include_inactive)"),
    "keyword_search_matches_terms": Grade(_EXT, "§6.5 search (mode)"),
    "hybrid_search_finds_what_either_half_finds": Grade(_EXT, "§6.5 search (mode)"),
    "semantic_search_is_available": Grade(_EXT, "§6.5 search (mode)"),
    "metadata_filters_match_by_equality": Grade(_EXT, "§6.5 search (filters)"),
    "idempotency_key_never_duplicates": Grade(_EXT, "§6.1 add (Idempotency-Key)"),
    "batch_add_stores_every_item_in_order": Grade(_EXT, "§6.2 add_many"),
    "forget_user_deletes_only_that_user": Grade(_EXT, "§6.9 forget_user"),
    "infer_supersedes_a_contradicted_memory": Grade(_EXT, "§6.1.1 add a conversation"),
    "infer_keeps_one_memory_of_a_fact_said_three_ways": Grade(_EXT, "§6.1.1 add a conversation"),
    "infer_failures_write_nothing": Grade(_EXT, "§6.1.1 add a conversation"),
    "infer_cancelled_apply_is_all_or_nothing": Grade(_EXT, "§6.1.1 add a conversation"),
    "concurrent_mixed_verbs_lose_and_leak_nothing": Grade(
        _CORE, "§11 Async and cancellation contracts"
    ),
    "bad_input_is_refused_and_writes_nothing": Grade(_CORE, "§8 Errors"),
    "cancellation_is_prompt_at_random_moments": Grade(
        _CORE, "§11 Async and cancellation contracts"
    ),
    "cancellation_at_every_await_point_is_atomic": Grade(
        _CORE, "§11 Async and cancellation contracts"
    ),
    "undeclared_capabilities_are_refused_before_any_io": Grade(_CORE, "§7 Capabilities"),
    "undeclared_verbs_of_the_raw_provider_refuse_without_io": Grade(_CORE, "§7 Capabilities"),
    "declared_capabilities_do_not_refuse": Grade(_CORE, "§7 Capabilities"),
    "declared_limits_are_accepted": Grade(_CORE, "§7 Capabilities (limits)"),
    "only_provable_features_are_declared": Grade(_CORE, "§7 Capabilities"),
    "ingestion_status_matches_the_declaration": Grade(_EXT, "§7 Capabilities (async_ingestion)"),
    "rate_limit_matches_the_declaration": Grade(_CORE, "§7 Capabilities (rate limit)"),
    "declared_features_are_honoured_on_the_wire": Grade(_CORE, "§7 Capabilities (truthful)"),
    "put_by_key_replaces_the_memory_and_keeps_its_id": Grade(_EXT, "§6.10 Client-chosen keys"),
    "keys_are_unique_per_user_and_scope": Grade(_EXT, "§6.10 Client-chosen keys"),
    "delete_by_key_removes_only_that_memory": Grade(_EXT, "§6.10 Client-chosen keys"),
    "concurrent_puts_of_one_key_leave_one_memory": Grade(_EXT, "§6.10 Client-chosen keys"),
    "a_put_over_a_key_is_audited_as_an_update": Grade(_EXT, "§6.10 Client-chosen keys"),
    "async_add_is_queued_and_its_event_succeeds": Grade(_EXT, "§6.1 add (async_mode)"),
    "async_batch_writes_each_item_exactly_once": Grade(_EXT, "§6.1 add (async_mode)"),
    "events_are_bounded_by_user": Grade(_EXT, "§6.1 add (async_mode)"),
}


def grade_of(check_name: str) -> Grade:
    """The grade of a check; a check missing from the table is graded as an extension."""
    return GRADES.get(check_name, Grade(_EXT, "§6 Verb semantics"))


def offers_openmem_extensions(provider: Provider[Any]) -> bool:
    """False for a foreign OMP server: one reached over the wire that announces no extension.

    Every in-process provider is written against openmem's full model and offers all of it.
    """
    announced = getattr(provider, "announces_openmem_extensions", None)
    return announced is not False
