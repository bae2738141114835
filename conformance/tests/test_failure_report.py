"""A failed check tells the provider's author what broke, where in their code, and what to do.

``openmem conformance`` runs against broken providers from ``openmem_conformance.defects``,
registered for the test as an installed provider would be (an ``openmem.providers`` entry
point).
"""

from __future__ import annotations

import inspect
import json
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openmem_conformance import CHECKS, defects
from openmem_conformance.cli import conformance

import openmem.registry


@pytest.fixture(autouse=True)
def broken_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = openmem.registry.available_providers()
    extra = {
        name: EntryPoint(name, f"openmem_conformance.defects:{cls}", "openmem.providers")
        for name, cls in (("crashy", "CrashesOnNulId"), ("leaky", "SearchIgnoresUser"))
    }
    monkeypatch.setattr(openmem.registry, "available_providers", lambda: {**installed, **extra})


def run(provider: str, check: str, report: Path) -> Result:
    return CliRunner().invoke(
        conformance, ["--provider", provider, "-k", check, "--report", str(report)]
    )


def line_of(cls: type, text: str) -> int:
    """The line number of the first source line of ``cls`` that contains ``text``."""
    lines, first = inspect.getsourcelines(cls)
    return first + next(i for i, line in enumerate(lines) if text in line)


def test_a_crash_in_the_provider_is_located_at_the_raising_line(tmp_path: Path) -> None:
    result = run("crashy", "bad_input_is_refused_and_writes_nothing", tmp_path / "r.json")
    assert result.exit_code == 1, result.output
    line = line_of(defects.CrashesOnNulId, "raise KeyError")
    assert f"openmem_conformance/defects.py:{line} in get" in result.output
    assert "fix:   every one of these must raise a typed" in result.output


def test_a_wrong_answer_points_at_the_verb_the_failure_names_first(tmp_path: Path) -> None:
    result = run("leaky", "users_never_see_each_other", tmp_path / "r.json")
    assert result.exit_code == 1, result.output
    line = line_of(defects.SearchIgnoresUser, "async def search")
    assert f"openmem_conformance/defects.py:{line} (search)" in result.output
    assert "[required] users_never_see_each_other" in result.output
    assert "fix:   every query must be bounded by" in result.output


def test_the_json_report_carries_where_and_troubleshooting_for_failures_only(
    tmp_path: Path,
) -> None:
    report = tmp_path / "r.json"
    run("leaky", "users_never_see_each_other", report)
    (failed,) = json.loads(report.read_text())["results"]
    assert failed["where"].split(":")[0].endswith("openmem_conformance/defects.py")
    assert failed["troubleshooting"] == CHECKS["users_never_see_each_other"].troubleshooting
    assert (
        CliRunner()
        .invoke(
            conformance,
            ["--provider", "inmemory", "-k", "list_is_newest_first", "--report", str(report)],
        )
        .exit_code
        == 0
    )
    (passed,) = json.loads(report.read_text())["results"]
    assert (passed["where"], passed["troubleshooting"]) == ("", "")


def test_every_check_has_troubleshooting_text_to_print() -> None:
    assert [name for name, check in CHECKS.items() if not check.troubleshooting] == []
