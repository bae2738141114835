"""spec/ is the code's own output: the models' JSON Schemas and the server's OpenAPI."""

from __future__ import annotations

import json

import pytest
import yaml
from pydantic import BaseModel

from openmem.server.spec import (
    REGENERATE,
    SCHEMA_MODELS,
    SPEC_DIR,
    model_schema,
    openapi_document,
)

_HOW = f"spec/ is stale; regenerate it with `{REGENERATE}` and commit the result"


@pytest.mark.parametrize("model", SCHEMA_MODELS, ids=lambda m: m.__name__)
def test_model_json_schema_matches_spec_schemas(model: type[BaseModel]) -> None:
    path = SPEC_DIR / "schemas" / f"{model.__name__}.json"
    assert path.exists(), f"{path} is missing; {_HOW}"
    committed = json.loads(path.read_text(encoding="utf-8"))
    assert committed == model_schema(model), f"{path} differs from {model.__name__}; {_HOW}"


def test_spec_schemas_has_no_orphans() -> None:
    names = {f"{model.__name__}.json" for model in SCHEMA_MODELS}
    orphans = {p.name for p in (SPEC_DIR / "schemas").glob("*.json")} - names
    assert not orphans, f"no model for {sorted(orphans)}; {_HOW}"


def test_server_openapi_matches_spec_openapi_yaml() -> None:
    committed = yaml.safe_load((SPEC_DIR / "openapi.yaml").read_text(encoding="utf-8"))
    generated = openapi_document()
    for path in set(committed["paths"]) | set(generated["paths"]):
        assert committed["paths"].get(path) == generated["paths"].get(path), (
            f"route {path} differs from spec/openapi.yaml; {_HOW}"
        )
    assert committed == generated, f"spec/openapi.yaml differs from the server; {_HOW}"


def test_openapi_documents_every_error_in_the_envelope() -> None:
    document = openapi_document()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, f"{method} {path} documents FastAPI's 422"
            errors = [code for code in responses if code.startswith(("4", "5"))]
            assert errors, f"{method} {path} documents no error"
            for code in errors:
                schema = responses[code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}


def test_every_model_schema_is_in_the_openapi_components() -> None:
    components = openapi_document()["components"]["schemas"]
    for name in ("MemoryRecord", "MemoryInput", "SearchResults", "AuditEntries", "ErrorEnvelope"):
        assert name in components
