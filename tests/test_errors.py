"""The error table and the envelope round trip."""

from __future__ import annotations

import pytest

from openmem import errors
from openmem.errors import ERROR_TABLE, OMPError, error_from_envelope

DESIGN_CODES = {
    "invalid_request",
    "not_found",
    "unauthorized",
    "scope_denied",
    "rate_limited",
    "unsupported_capability",
    "payload_too_large",
    "provider_error",
    "provider_unavailable",
    "provider_saturated",
    "ingestion_timeout",
}


def test_every_code_named_in_the_design_is_in_the_table() -> None:
    assert set(ERROR_TABLE) >= DESIGN_CODES


def test_every_row_maps_to_a_class_with_that_code() -> None:
    for code, spec in ERROR_TABLE.items():
        assert spec.error_class.code == code
        assert issubclass(spec.error_class, OMPError)


def test_every_protocol_error_class_has_a_row() -> None:
    classes = {
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, OMPError) and obj is not OMPError
    }
    assert classes == {spec.error_class for spec in ERROR_TABLE.values()}


@pytest.mark.parametrize("code", sorted(ERROR_TABLE))
def test_envelope_round_trips_to_the_same_class(code: str) -> None:
    spec = ERROR_TABLE[code]
    original = spec.error_class("boom", request_id="req-1", field="content")
    rebuilt = error_from_envelope(original.to_envelope(), status=spec.http_status)
    assert type(rebuilt) is spec.error_class
    assert rebuilt.error_code == code
    assert rebuilt.request_id == "req-1"
    assert rebuilt.field == "content"
    assert original.to_envelope()["error"]["type"] == spec.type


def test_unknown_remote_code_keeps_its_code_on_the_status_family() -> None:
    rebuilt = error_from_envelope({"error": {"code": "quota_exceeded", "message": "x"}}, status=429)
    assert isinstance(rebuilt, errors.RateLimitedError)
    assert rebuilt.error_code == "quota_exceeded"


def test_a_bare_5xx_without_envelope_is_a_provider_error() -> None:
    assert isinstance(error_from_envelope({}, status=500), errors.ProviderError)


def test_misuse_errors_are_runtime_errors_not_protocol_errors() -> None:
    for cls in (errors.EventLoopMismatchError, errors.ClosedError):
        assert issubclass(cls, RuntimeError)
        assert not issubclass(cls, OMPError)
    assert issubclass(errors.ConfigurationError, ValueError)


def test_retry_hints_follow_the_table() -> None:
    assert errors.RateLimitedError("x").retryable
    assert errors.ProviderUnavailableError("x").retryable
    assert not errors.InvalidRequestError("x").retryable
    assert errors.UnsupportedCapabilityError("x").http_status == 400
