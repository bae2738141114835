"""Grading: OMP 0.1 core vs openmem extensions, "not offered", and the clause of a failure."""

from __future__ import annotations

from openmem_conformance import CHECKS, Outcome, validate
from openmem_conformance.defects import ForeignServerSearchesInactiveToo, HonestForeignServer
from openmem_conformance.grading import GRADES, Standard
from openmem_conformance.runner import run_one

from openmem.inmemory import InMemoryProvider


def test_every_check_is_graded_core_or_extension_with_a_clause() -> None:
    assert set(GRADES) == set(CHECKS)
    assert all(grade.clause.startswith("§") for grade in GRADES.values())


async def test_an_extension_check_is_not_offered_by_a_foreign_server() -> None:
    result = await run_one(CHECKS["update_is_a_merge_patch"], HonestForeignServer)
    assert result.outcome is Outcome.NOT_OFFERED
    assert "§2.3" in result.message


async def test_a_core_check_asks_a_foreign_server_for_omp_core_fields_only() -> None:
    result = await run_one(CHECKS["add_returns_the_stored_record"], HonestForeignServer)
    assert result.outcome is Outcome.PASSED, result.message


async def test_a_foreign_server_that_honours_its_declaration_passes_the_wire_check() -> None:
    result = await run_one(
        CHECKS["declared_features_are_honoured_on_the_wire"], HonestForeignServer
    )
    assert result.outcome is Outcome.PASSED, result.message
    assert result.details["declared_features"] == {
        "temporal": "honoured",
        "supports_supersession": "honoured",
        "keyword_search": "not declared",
    }


async def test_the_wire_check_does_not_apply_to_an_in_process_provider() -> None:
    check = CHECKS["declared_features_are_honoured_on_the_wire"]
    result = await run_one(check, InMemoryProvider)
    assert result.outcome is Outcome.SKIPPED


async def test_the_report_names_core_failures_with_their_clause_and_lists_not_offered() -> None:
    names = (
        "declared_features_are_honoured_on_the_wire",
        "update_is_a_merge_patch",
        "list_is_newest_first",
    )
    report = await validate(ForeignServerSearchesInactiveToo, checks=[CHECKS[n] for n in names])
    data = report.to_dict()
    assert [f["check"] for f in data["core_failures"]] == [names[0]]
    failure = data["core_failures"][0]
    assert failure["clause"] == "§7 Capabilities (truthful)"
    assert "temporal" in failure["message"]
    assert "supports_supersession" in failure["message"]
    assert data["not_offered"] == ["update_is_a_merge_patch"]
    assert data["extension_failures"] == []
    by_name = {r["name"]: r for r in data["results"]}
    assert by_name["list_is_newest_first"]["standard"] == Standard.CORE.value
    assert by_name["update_is_a_merge_patch"]["outcome"] == "not offered"
