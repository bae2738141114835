"""The two front ends: the pytest base class (its guard, marks, strict xfail) and the runner.

The end-to-end tests run pytest in a subprocess with a configuration of their own
(pytest-asyncio strict mode, the opt-in plugin), as a provider author's project would. They
prove the front ends' machinery, to which the embedder is irrelevant: their providers take the
``lexical`` fixture's instant embedder (the semantic default's model load and per-add cost,
paid in every subprocess, tripled their time; tests/test_conformance_inmemory.py runs the
suite on the default).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from openmem_conformance import CHECKS, Outcome, ProviderConformance, validate
from openmem_conformance.cli import conformance
from openmem_conformance.defects import FlagsNothing
from openmem_conformance.runner import run_one
from openmem_conformance.suite import STANDARD_TESTS

from openmem.errors import ScopeDeniedError
from openmem.inmemory import InMemoryProvider
from openmem.provider import Caller

SUBPROCESS_TIMEOUT = 240


def _guard(cls: type[ProviderConformance]) -> None:
    cls().test_no_overrides_DO_NOT_OVERRIDE()


def test_every_check_is_a_standard_test_with_troubleshooting() -> None:
    assert set(STANDARD_TESTS) == {f"test_{name}" for name in CHECKS}
    for name in STANDARD_TESTS:
        doc = getattr(ProviderConformance, name).__doc__ or ""
        assert "Troubleshooting" in doc, name


def test_standard_tests_carry_an_explicit_asyncio_mark() -> None:
    for name in STANDARD_TESTS:
        marks = getattr(ProviderConformance, name).pytestmark
        asyncio_marks = [m for m in marks if m.name == "asyncio"]
        assert asyncio_marks, name
        assert asyncio_marks[0].kwargs == {"loop_scope": "function"}


def test_the_guard_accepts_an_untouched_subclass() -> None:
    class Untouched(ProviderConformance):
        pass

    _guard(Untouched)


def test_the_guard_fails_an_override_without_xfail() -> None:
    class Weakened(ProviderConformance):
        async def test_list_pagination_is_complete(self, provider: object) -> None:
            pass

    with pytest.raises(AssertionError, match="test_list_pagination_is_complete is overridden"):
        _guard(Weakened)


def test_the_guard_fails_an_xfail_without_reason() -> None:
    class NoReason(ProviderConformance):
        @pytest.mark.xfail
        async def test_list_pagination_is_complete(self, provider: object) -> None:
            await super().test_list_pagination_is_complete(provider)  # type: ignore[misc]

    with pytest.raises(AssertionError, match=r"without @pytest\.mark\.xfail"):
        _guard(NoReason)


def test_the_guard_fails_a_deleted_test() -> None:
    class Deleted(ProviderConformance):
        test_list_pagination_is_complete = None

    with pytest.raises(AssertionError, match="test_list_pagination_is_complete was deleted"):
        _guard(Deleted)


def test_an_xfail_with_reason_passes_the_guard_and_is_made_strict() -> None:
    class KnownBug(ProviderConformance):
        @pytest.mark.xfail(reason="issue 12: pages repeat an item")
        async def test_list_pagination_is_complete(self, provider: object) -> None:
            await super().test_list_pagination_is_complete(provider)  # type: ignore[misc]

    _guard(KnownBug)
    marks = KnownBug.test_list_pagination_is_complete.pytestmark  # type: ignore[attr-defined]
    (xfail,) = [m for m in marks if m.name == "xfail"]
    assert xfail.kwargs == {"reason": "issue 12: pages repeat an item", "strict": True}
    assert [m.kwargs for m in marks if m.name == "asyncio"] == [{"loop_scope": "function"}]


def _pytest(
    tmp_path: Path, test_body: str, *args: str, plugin: bool = True, conftest: str = ""
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
    )
    if plugin:
        (tmp_path / "conftest.py").write_text(
            'pytest_plugins = ["openmem_conformance.plugin"]\n' + textwrap.dedent(conftest)
        )
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(test_body))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )


def _outcomes(junit: Path) -> dict[str, str]:
    outcomes = {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        outcome = "SKIPPED" if "skipped" in kinds else "FAILED" if kinds else "PASSED"
        outcomes[case.attrib["name"]] = outcome
    return outcomes


async def test_pytest_and_the_runner_agree_in_strict_mode(
    tmp_path: Path, lexical: Mapping[str, str]
) -> None:
    run = _pytest(
        tmp_path,
        f"""
        import pytest
        from openmem_conformance import ProviderConformance
        from openmem_conformance.defects import FlagsNothing

        class TestMinimal(ProviderConformance):
            @pytest.fixture
            async def provider(self):
                yield FlagsNothing(**{dict(lexical)!r})
        """,
        "--junitxml",
        "junit.xml",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    by_pytest = _outcomes(tmp_path / "junit.xml")
    report = await validate(partial(FlagsNothing, **lexical))
    by_runner = {f"test_{r.name}": r.outcome.value.upper() for r in report.results}
    assert {k: v for k, v in by_pytest.items() if k in by_runner} == by_runner
    assert "SKIPPED" in by_runner.values()
    assert report.results[0].outcome is Outcome.PASSED


def test_a_plain_async_fixture_works_in_strict_mode_without_the_plugin(
    tmp_path: Path, lexical: Mapping[str, str]
) -> None:
    run = _pytest(
        tmp_path,
        f"""
        import pytest
        from openmem.inmemory import InMemoryProvider
        from openmem_conformance import ProviderConformance

        class TestPlain(ProviderConformance):
            @pytest.fixture
            async def provider(self):
                yield InMemoryProvider(**{dict(lexical)!r})
        """,
        "-k",
        "(pagination and not ties) or DO_NOT_OVERRIDE",
        plugin=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout


def test_a_session_lifespan_in_a_conftest_is_set_up_once(
    tmp_path: Path, lexical: Mapping[str, str]
) -> None:
    run = _pytest(
        tmp_path,
        f"""
        import pytest
        from openmem.inmemory import InMemoryProvider
        from openmem_conformance import ProviderConformance

        class TestWithLifespan(ProviderConformance):
            @pytest.fixture
            def provider(self, lifespan):
                assert lifespan == "database ready"
                return InMemoryProvider(**{dict(lexical)!r})
        """,
        "-k",
        "pagination and not ties",
        conftest="""
        import asyncio
        from pathlib import Path
        import pytest

        @pytest.fixture(scope="session")
        async def lifespan():
            await asyncio.sleep(0)
            with Path("starts.txt").open("a") as log:
                log.write("started\\n")
            yield "database ready"
        """,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
    assert (tmp_path / "starts.txt").read_text().splitlines() == ["started"]


def test_a_stale_xfail_fails_the_run(tmp_path: Path, lexical: Mapping[str, str]) -> None:
    run = _pytest(
        tmp_path,
        f"""
        import pytest
        import pytest_asyncio
        from openmem.inmemory import InMemoryProvider
        from openmem_conformance import ProviderConformance

        class TestStale(ProviderConformance):
            @pytest_asyncio.fixture
            async def provider(self):
                return InMemoryProvider(**{dict(lexical)!r})

            @pytest.mark.xfail(reason="was broken once")
            async def test_list_is_newest_first(self, provider):
                await super().test_list_is_newest_first(provider)
        """,
        "-k",
        "newest_first or DO_NOT_OVERRIDE",
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "XPASS(strict)" in run.stdout


def test_the_runner_writes_a_report_and_exits_zero_when_required_checks_pass(
    tmp_path: Path,
) -> None:
    report = tmp_path / "report.json"
    result = CliRunner().invoke(
        conformance,
        ["--provider", "inmemory", "--report", str(report), "-k", "list_is_newest_first"],
    )
    assert result.exit_code == 0, result.output
    assert "conformance level: Native" in result.output
    data = json.loads(report.read_text())
    assert data["level"] == "Native"
    assert data["results"][0]["name"] == "list_is_newest_first"


def test_the_runner_exits_non_zero_when_a_required_check_fails(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        conformance,
        [
            "--base-url",
            "http://127.0.0.1:9",
            "--option",
            "retries=0",
            "--report",
            str(tmp_path / "report.json"),
            "-k",
            "capabilities_are_well_formed",
        ],
    )
    assert result.exit_code == 1, result.output
    assert json.loads((tmp_path / "report.json").read_text())["level"] == "None"


def test_the_runner_refuses_to_run_without_a_target() -> None:
    result = CliRunner().invoke(conformance, [])
    assert result.exit_code == 2
    assert "--provider" in result.output


def test_the_readme_lists_every_check() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    missing = [name for name in CHECKS if f"`{name}`" not in readme]
    assert not missing


async def test_checks_stay_apart_in_one_shared_store_and_namespace(
    lexical: Mapping[str, str],
) -> None:
    shared = InMemoryProvider(**lexical)  # like a server whose API key fixes the namespace
    report = await validate(lambda: shared, namespace="default")
    assert [(r.name, r.message) for r in report.failed()] == []


class _OneNamespaceOnly(InMemoryProvider):
    """Refuses every namespace but "tenant", as a server with a namespace-bound key does."""

    def _space(self, caller: Caller):  # type: ignore[no-untyped-def]
        if caller.namespace != "tenant":
            raise ScopeDeniedError("this key is bound to namespace 'tenant'")
        return super()._space(caller)


async def test_a_namespace_refused_as_a_whole_counts_as_isolated() -> None:
    result = await run_one(
        CHECKS["namespaces_never_see_each_other"], _OneNamespaceOnly, namespace="tenant"
    )
    assert result.outcome is Outcome.PASSED, result.message
    refused = result.details["other_namespace"]
    # Every verb was tried, not only the first: a refused list proves nothing about the rest.
    assert {entry.split(":")[0] for entry in refused} >= {"list", "get", "search", "add"}
    assert all(entry.endswith(": scope_denied") for entry in refused)


def test_the_runner_lists_its_checks() -> None:
    result = CliRunner().invoke(conformance, ["--list-checks"])
    assert result.exit_code == 0, result.output
    assert "cancellation_at_every_await_point_is_atomic" in result.output
