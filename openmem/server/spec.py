"""Generate and check ``spec/``: the OpenAPI document and one JSON Schema per wire model.

``spec/openapi.yaml`` is what the server serves at ``/openapi.json``; ``spec/schemas/*.json``
are the models' ``model_json_schema()``. Both are generated from the code and committed, so
a change to a model or a route shows up as a diff in review, and the drift tests fail until
the spec is regenerated::

    python -m openmem.server.spec --write    # regenerate spec/openapi.yaml and spec/schemas
    python -m openmem.server.spec --check    # exit 1 with a diff when spec/ is stale
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from openmem import models
from openmem.server import wire

__all__ = [
    "REGENERATE",
    "SCHEMA_MODELS",
    "SPEC_DIR",
    "model_schema",
    "openapi_document",
    "render_openapi",
    "render_schema",
]

SPEC_DIR = Path(__file__).resolve().parents[2] / "spec"
REGENERATE = "python -m openmem.server.spec --write"
"""The command that brings ``spec/`` up to date (quoted by every drift failure)."""
_JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

SCHEMA_MODELS: tuple[type[BaseModel], ...] = (
    models.MemoryRecord,
    models.MemorySource,
    models.MemoryInput,
    models.MemoryPatch,
    models.MemoryPage,
    models.ListQuery,
    models.SearchQuery,
    models.SearchHit,
    models.ContextQuery,
    models.ContextBlock,
    models.Citation,
    models.AuditQuery,
    models.AuditEntry,
    models.Capabilities,
    models.CapabilityFeatures,
    models.CapabilityLimits,
    models.IngestEvent,
    models.EventError,
    wire.SearchRequest,
    wire.SearchResults,
    wire.ContextRequest,
    wire.PatchRequest,
    wire.BatchAddRequest,
    wire.BatchAddResponse,
    wire.ConversationRequest,
    wire.ConversationResponse,
    wire.AuditEntries,
    wire.ForgetUserResponse,
    wire.Health,
    wire.ErrorEnvelope,
)
"""Every model that crosses the wire, one ``spec/schemas/<Name>.json`` each."""


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of ``model`` as committed (2020-12 dialect, stable id)."""
    schema = model.model_json_schema()
    return {"$schema": _JSON_SCHEMA_DIALECT, "$id": f"{model.__name__}.json", **schema}


def render_schema(model: type[BaseModel]) -> str:
    """The committed text of ``spec/schemas/<Name>.json``."""
    return json.dumps(model_schema(model), indent=2, ensure_ascii=False) + "\n"


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document the server serves (the provider does not change it)."""
    from openmem.inmemory import InMemoryProvider
    from openmem.server.app import create_app
    from openmem.server.settings import ServerSettings

    return create_app(ServerSettings(auth=False), provider=InMemoryProvider()).openapi()


class _SpecDumper(yaml.SafeDumper):
    """Plain YAML for people and tools: no anchors, multi-line text as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_SpecDumper.add_representer(str, _str)


def render_openapi(document: dict[str, Any] | None = None) -> str:
    """The committed text of ``spec/openapi.yaml``."""
    header = f"# Generated from the code by `{REGENERATE}`; do not edit by hand.\n"
    body = yaml.dump(
        document or openapi_document(),
        Dumper=_SpecDumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    return header + body


def _expected(spec_dir: Path) -> dict[Path, str]:
    files = {spec_dir / "openapi.yaml": render_openapi()}
    for model in SCHEMA_MODELS:
        files[spec_dir / "schemas" / f"{model.__name__}.json"] = render_schema(model)
    return files


def _stale(spec_dir: Path) -> list[str]:
    problems: list[str] = []
    expected = _expected(spec_dir)
    for path, text in expected.items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(), text.splitlines(), str(path), "generated", lineterm=""
            )
            problems.append("\n".join(list(diff)[:40]))
    extra = set((spec_dir / "schemas").glob("*.json")) - set(expected)
    problems.extend(f"{path}: no model has this schema any more" for path in sorted(extra))
    return problems


def main(argv: list[str] | None = None) -> int:
    """Write or check ``spec/``."""
    parser = argparse.ArgumentParser(prog="python -m openmem.server.spec", description=__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="regenerate spec/")
    action.add_argument("--check", action="store_true", help="exit 1 when spec/ is stale")
    parser.add_argument("--spec-dir", type=Path, default=SPEC_DIR)
    args = parser.parse_args(argv)
    if args.write:
        (args.spec_dir / "schemas").mkdir(parents=True, exist_ok=True)
        expected = _expected(args.spec_dir)
        for path in set((args.spec_dir / "schemas").glob("*.json")) - set(expected):
            path.unlink()
        for path, text in expected.items():
            path.write_text(text, encoding="utf-8")
        print(f"wrote {len(expected)} files under {args.spec_dir}")
        return 0
    problems = _stale(args.spec_dir)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"spec/ is stale; regenerate it with: {REGENERATE}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
