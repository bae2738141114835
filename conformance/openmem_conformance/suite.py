"""The pytest front end: subclass ``ProviderConformance`` and implement one fixture.

    import pytest
    from openmem_conformance import ProviderConformance

    class TestMyProvider(ProviderConformance):
        budget_ms = 10  # optional: the cancellation budget

        @pytest.fixture
        async def provider(self):  # fresh, empty, NOT opened; the suite opens and closes it
            yield MyProvider(url=...)

Every check of the registry becomes one test, ``test_<check name>``, whose docstring says
how to troubleshoot it. A check of an undeclared capability is skipped with the capability
named. A known failure may be marked by overriding that one test with
``@pytest.mark.xfail(reason=...)`` and calling ``super()``; it is made strict, so a fixed
bug turns the run red until the mark goes. Any other override, or a deleted test, fails
``test_no_overrides_DO_NOT_OVERRIDE``.

The tests carry explicit ``asyncio`` marks (function loop scope), so they run under any
``asyncio_mode``; an async ``provider`` or ``lifespan`` fixture defined in the subclass runs
in strict mode too, whether declared with ``@pytest.fixture`` or ``@pytest_asyncio.fixture``
(an async ``lifespan`` in a conftest needs the latter, or the opt-in plugin).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar, cast

import pytest

import openmem_conformance.checks  # noqa: F401 - registers the checks
from openmem.provider import Provider
from openmem_conformance.harness import DEFAULT_BUDGET_MS, CheckSkipped, run_check
from openmem_conformance.registry import CHECKS, Check

__all__ = ["STANDARD_TESTS", "ProviderConformance", "promote_async_fixture"]

TestMethod = Callable[..., Coroutine[Any, Any, None]]


async def _resolve(value: Any) -> tuple[Provider[Any], Any]:
    """The provider behind a fixture value pytest-asyncio did not resolve (strict mode)."""
    if inspect.isasyncgen(value):
        return cast("Provider[Any]", await value.__anext__()), value
    if inspect.isawaitable(value):
        return cast("Provider[Any]", await value), None
    return value, None


def promote_async_fixture(fixture: Any, scope: str | None = None) -> None:
    """Let pytest-asyncio run a plain ``@pytest.fixture`` async fixture in strict mode too.

    Strict mode only runs async fixtures declared with ``@pytest_asyncio.fixture``, which
    marks the function with the two attributes set here; the suite's tests are explicitly
    asyncio tests, so their async fixtures are meant for asyncio whatever the decorator.
    The fixture runs on the loop of its own scope (a session ``lifespan`` on the session
    loop), as ``@pytest_asyncio.fixture(loop_scope=<scope>)`` would.
    """
    marker = getattr(fixture, "_fixture_function_marker", None)
    scope = scope or getattr(marker, "scope", None)
    func = getattr(fixture, "_fixture_function", fixture)  # pytest >= 8.4 wraps fixtures
    func = getattr(func, "__func__", func)
    if not (inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)):
        return
    if not getattr(func, "_force_asyncio_fixture", False):
        func._force_asyncio_fixture = True
        func._loop_scope = scope if isinstance(scope, str) else None


def _standard_test(check: Check) -> TestMethod:
    async def test(self: ProviderConformance, provider: Any) -> None:
        resolved, generator = await _resolve(provider)
        if not isinstance(resolved, Provider):
            pytest.fail(
                f"the provider fixture gave {type(resolved).__name__}; it must yield an "
                "unopened openmem Provider"
            )
        try:
            await run_check(check, resolved, budget_ms=self.budget_ms, namespace=self.namespace)
        except CheckSkipped as skipped:
            pytest.skip(str(skipped))
        finally:
            if generator is not None:
                await generator.aclose()

    test.__name__ = f"test_{check.name}"
    test.__qualname__ = f"ProviderConformance.{test.__name__}"
    test.__doc__ = check.doc
    marked: TestMethod = pytest.mark.asyncio(loop_scope="function")(test)
    return marked


STANDARD_TESTS: tuple[str, ...] = tuple(f"test_{name}" for name in CHECKS)
"""The names of the standard tests, one per registered check."""


class ProviderConformance:
    """The conformance suite as a pytest class; subclass it and implement ``provider``.

    Class attributes:

    ``budget_ms``: milliseconds from ``task.cancel()`` to ``CancelledError`` (p99) that the
    cancellation checks allow; 10 by default.

    ``namespace``: one namespace for every test, for a backend that cannot create new ones
    (an OMP server whose API key is bound to one); None (default) gives each test its own.

    Fixtures to implement or override:

    ``provider`` (required): yields a fresh, empty, *unopened* ``Provider``. The suite
    wraps it in ``AsyncMemory`` under a unique namespace, opens it and closes it.

    ``lifespan`` (optional, session scope, in the class or a conftest): set up once what
    every provider needs, e.g. start a database; the ``provider`` fixture may request it.
    """

    budget_ms: ClassVar[float] = DEFAULT_BUDGET_MS
    namespace: ClassVar[str | None] = None
    """A fixed namespace for every test (a server binding keys to one); default: unique."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("provider", "lifespan"):
            if name in cls.__dict__:
                promote_async_fixture(cls.__dict__[name])
        for name in STANDARD_TESTS:
            method = cls.__dict__.get(name)
            if method is None or not inspect.iscoroutinefunction(method):
                continue
            marks = list(getattr(method, "pytestmark", []))
            # Expected failures are strict: a bug that got fixed must not hide behind its mark.
            marks = [
                pytest.mark.xfail(*m.args, **{**m.kwargs, "strict": True}).mark
                if m.name == "xfail"
                else m
                for m in marks
            ]
            # An override runs like the test it replaces, whatever the asyncio_mode.
            if not any(m.name == "asyncio" for m in marks):
                marks.append(pytest.mark.asyncio(loop_scope="function").mark)
            method.pytestmark = marks

    @pytest.fixture
    def provider(self) -> Provider[Any]:
        """Yield a fresh, empty, unopened provider: implement this in your subclass."""
        pytest.fail(
            f"{type(self).__name__} must implement the 'provider' fixture: yield a fresh, "
            "empty, unopened Provider"
        )

    @pytest.fixture(autouse=True)
    def _conformance_lifespan(self, request: pytest.FixtureRequest) -> None:
        """Set up the optional ``lifespan`` fixture (class, module or conftest) first."""
        with contextlib.suppress(pytest.FixtureLookupError):  # no lifespan: nothing to set up
            request.getfixturevalue("lifespan")

    def test_no_overrides_DO_NOT_OVERRIDE(self) -> None:
        """No standard test is deleted or overridden without ``xfail(reason=...)``.

        Troubleshooting: the only allowed override of a standard test is
        ``@pytest.mark.xfail(reason="why")`` on a method that calls ``super()``; it is run
        strict. Do not skip, weaken or delete standard tests: declare less in
        ``capabilities()`` instead, and the OPTIONAL checks of what you do not declare are
        skipped by themselves.
        """
        problems: list[str] = []
        for name in STANDARD_TESTS:
            method = getattr(type(self), name, None)
            if method is None:
                problems.append(f"{name} was deleted")
                continue
            if method is getattr(ProviderConformance, name):
                continue
            xfails = [m for m in getattr(method, "pytestmark", []) if m.name == "xfail"]
            if not xfails or not xfails[0].kwargs.get("reason"):
                problems.append(f"{name} is overridden without @pytest.mark.xfail(reason=...)")
        assert not problems, "; ".join(problems)


for _check in CHECKS.values():
    setattr(ProviderConformance, f"test_{_check.name}", _standard_test(_check))
