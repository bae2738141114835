"""An opt-in pytest plugin for suites built on ``ProviderConformance``.

It is never loaded by itself (no ``pytest11`` entry point): installing
``openmem-conformance`` changes nothing in unrelated test runs. Load it explicitly::

    # conftest.py
    pytest_plugins = ["openmem_conformance.plugin"]

What it adds:

- a ``conformance`` marker on every standard test, so ``-m conformance`` selects them;
- in pytest-asyncio strict mode, a plain ``@pytest.fixture`` async ``lifespan`` (or
  ``provider``) fixture defined in a conftest is handled as an asyncio fixture for the
  suite's tests (the base class already does this for fixtures defined in the subclass);
- ``--conformance-budget-ms N`` to override every suite's cancellation budget.
"""

from __future__ import annotations

import pytest

from openmem_conformance.suite import STANDARD_TESTS, ProviderConformance, promote_async_fixture

__all__: list[str] = []

_ASYNC_FIXTURES = ("provider", "lifespan")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--conformance-budget-ms``."""
    parser.addoption(
        "--conformance-budget-ms",
        type=float,
        default=None,
        help="cancellation budget (ms) for every ProviderConformance suite",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``conformance`` marker."""
    config.addinivalue_line("markers", "conformance: a standard openmem conformance test")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark standard tests, apply the budget option, and promote plain async fixtures."""
    budget = config.getoption("--conformance-budget-ms")
    for item in items:
        cls = getattr(item, "cls", None)
        if cls is None or not issubclass(cls, ProviderConformance):
            continue
        if item.name.split("[")[0] in STANDARD_TESTS:
            item.add_marker(pytest.mark.conformance)
        if budget is not None:
            cls.budget_ms = budget
        _promote_async_fixtures(item)


def _promote_async_fixtures(item: pytest.Item) -> None:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return
    for name in _ASYNC_FIXTURES:
        for fixturedef in info.name2fixturedefs.get(name, ()):
            promote_async_fixture(fixturedef.func, fixturedef.scope)
