"""Schema-driven fuzzing: spec/openapi.yaml against a live server with API keys.

Every operation gets a bounded number of generated requests (valid and invalid); the server
must never answer 5xx and every answer must match the spec (status, content type, headers,
body schema). ``positive_data_acceptance`` is left out on purpose: the models are stricter
than JSON Schema can say (a blank ``user_id`` or ``content`` is refused, unknown fields that
are not ``x-`` extensions are refused), and the spec says so in prose.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from openmem.inmemory import InMemoryProvider
from openmem.server import KeyStore, ServerSettings, create_app
from openmem.server.spec import SPEC_DIR

from .conftest import live_server

SCHEMA = schemathesis.openapi.from_path(SPEC_DIR / "openapi.yaml")
EXAMPLES_PER_OPERATION = 50


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A live server over the in-memory provider, and the headers of a full-power key."""
    store = KeyStore(Path(tmp_path_factory.mktemp("keys")) / "keys.json")
    key, _ = store.create(namespace="fuzz")
    app = create_app(ServerSettings(), provider=InMemoryProvider(), key_store=store)
    with live_server(app) as server:
        yield server.url, {"Authorization": f"Bearer {key}"}


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_5xx_and_no_spec_violation(
    case: schemathesis.Case, fuzz_target: tuple[str, dict[str, str]]
) -> None:
    base_url, headers = fuzz_target
    case.call_and_validate(
        base_url=base_url, headers=headers, excluded_checks=[positive_data_acceptance]
    )
