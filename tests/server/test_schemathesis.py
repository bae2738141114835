"""Schema-driven fuzzing: spec/openapi.yaml against a live server with API keys.

Every operation gets a bounded number of generated requests (valid and invalid); the server
must never answer 5xx and every answer must match the spec (status, content type, headers,
body schema), and schema-valid data must be accepted (``positive_data_acceptance``):
the schemas state what the models refuse. The refusals no per-field schema can state are
listed in ``is_documented_refusal`` and in spec/omp.md section 2; only those are let through.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    response = case.call(base_url=base_url, headers=headers)
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
    if not is_documented_refusal(response):
        case.validate_response(response, checks=[positive_data_acceptance])


def is_documented_refusal(response: Any) -> bool:
    """A refusal of schema-valid data that no JSON Schema can state, each said in spec/omp.md.

    - ``unsupported_capability``: the provider does not declare the feature (webhooks,
      events, ``async_mode`` on the in-memory provider); ``/capabilities`` says so;
    - a ``cursor`` that this server did not issue (cursors are opaque);
    - ``user_id`` given neither as the parameter nor as ``X-User-Id``, or differently in
      both (one of two optional places is required, and they agree: not expressible per
      parameter);
    - an item of a batch naming another user than the batch's, ``valid_to`` before
      ``valid_from``, ``idempotency_key`` with ``infer=true``, or an ``Idempotency-Key``
      header that differs from the body's ``idempotency_key`` (rules across fields), or a
      date with an offset that leaves the calendar in UTC (year 1 or 9999);
    - ``metadata``, ``source`` or ``x-`` extension values nested deeper than 16 levels
      (JSON Schema has no depth keyword; the other JSON rules are in the ``JsonValue``
      schema, checked equal to the validators in tests/test_schema_agreement.py).
    """
    if response.status_code != 400:
        return False
    error = response.json().get("error", {})
    if error.get("code") == "unsupported_capability":
        return True
    if error.get("field") == "cursor":
        return True
    field, message = str(error.get("field")), str(error.get("message", ""))
    if "nests too deeply" in message:
        return True
    if field.startswith("items.") and field.endswith(".user_id"):
        return "the batch's user_id" in message
    if "valid_to must not be before valid_from" in message:
        return True
    if field == "idempotency_key" and ("infer=True" in message or "disagree" in message):
        return True
    if "outside the representable range" in message:
        return True
    return field == "user_id" and (
        message.startswith("user_id is required") or message == "user_id and X-User-Id disagree"
    )
