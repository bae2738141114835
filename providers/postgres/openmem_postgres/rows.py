"""Between asyncpg rows and openmem models: records, audit entries, cursors, vector codec."""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, TypeVar

import asyncpg
from pydantic import BaseModel

from openmem.models import AuditEntry, MemoryRecord, MemorySource, SearchHit

ModelT = TypeVar("ModelT", bound=BaseModel)

__all__ = [
    "RECORD_COLUMNS",
    "audit_from_row",
    "encode_vector",
    "hit_from_row",
    "init_connection",
    "record_from_row",
]

RECORD_COLUMNS = (
    "id, user_id, agent_id, session_id, scope, tags, source, metadata, extensions, "
    "confidence, valid_from, valid_to, supersedes, status, content, embedding_model, "
    "created_at, updated_at, client_key"
)
"""The columns every query returns for a record, in the order ``record_from_row`` reads."""
_RECORD_WIDTH = RECORD_COLUMNS.count(",") + 1

_new = object.__new__
# The slots every pydantic model has, set through their descriptors: ``object.__setattr__``
# looked each up along the class's MRO, a third of the cost of making a hit.
_SLOTS = BaseModel.__dict__
_set_dict = _SLOTS["__dict__"].__set__
_set_fields_set = _SLOTS["__pydantic_fields_set__"].__set__
_set_extra = _SLOTS["__pydantic_extra__"].__set__
_set_private = _SLOTS["__pydantic_private__"].__set__
# One set of field names per model, shared by every instance made here: every field is set,
# the models are frozen (pydantic never adds to it), and ``model_copy`` copies it before
# changing it. A new set per instance was 0.4 us of a hit's 6.
_RECORD_FIELDS = set(MemoryRecord.model_fields)
_HIT_FIELDS = set(SearchHit.model_fields)


def _trusted(cls: type[ModelT], values: dict[str, Any], fields: set[str], extra: Any) -> ModelT:
    """An instance of ``cls`` holding ``values`` (every field) without validation.

    Exactly what pydantic's ``model_construct`` ends with, without its per-field default
    and alias resolution, which the rows never need: every field is present.
    """
    obj: ModelT = _new(cls)
    _set_dict(obj, values)
    _set_fields_set(obj, fields)
    _set_extra(obj, extra)
    _set_private(obj, None)
    return obj


def record_from_row(row: asyncpg.Record) -> MemoryRecord:
    """A ``MemoryRecord`` from a row starting with ``RECORD_COLUMNS``.

    Rows were validated on the way in, so they are not validated again on the way out:
    that would be most of the cost of turning a row into a model. Read by position (one
    unpacking instead of a lookup per column): a search builds ten of these per call.
    """
    (
        id_,
        user_id,
        agent_id,
        session_id,
        scope,
        tags,
        source,
        metadata,
        extensions,
        confidence,
        valid_from,
        valid_to,
        supersedes,
        status,
        content,
        embedding_model,
        created_at,
        updated_at,
        client_key,
    ) = row[:_RECORD_WIDTH]
    values = {
        "id": id_,
        "content": content,
        "user_id": user_id,
        "created_at": created_at,
        "updated_at": updated_at,
        "scope": scope,
        "tags": list(tags),
        "source": MemorySource.model_construct(**source) if source is not None else None,
        "confidence": confidence,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "supersedes": list(supersedes),
        "embedding_model": embedding_model,
        "status": status,
        "agent_id": agent_id,
        "session_id": session_id,
        "metadata": metadata,
        "event_id": None,
        "key": client_key,
    }
    return _trusted(MemoryRecord, values, _RECORD_FIELDS, extensions or {})


def hit_from_row(row: asyncpg.Record) -> SearchHit:
    """A ``SearchHit`` from a row of ``RECORD_COLUMNS`` plus ``score``."""
    values = {"memory": record_from_row(row), "score": row[_RECORD_WIDTH]}
    return _trusted(SearchHit, values, _HIT_FIELDS, {})


def audit_from_row(row: asyncpg.Record) -> AuditEntry:
    """An ``AuditEntry`` from a row of the audit table."""
    return AuditEntry.model_construct(
        id=row["id"],
        timestamp=row["ts"],
        user_id=row["user_id"],
        action=row["action"],
        memory_id=row["memory_id"],
        scope=row["scope"],
        app=row["app"],
        request_id=row["request_id"],
        details=row["details"],
    )


@lru_cache(maxsize=8)
def _vector_struct(dim: int) -> struct.Struct:
    return struct.Struct(f">HH{dim}f")


def encode_vector(vector: Sequence[float] | bytes) -> bytes:
    """pgvector's binary format: dimensions (uint16), unused (uint16), float4 values.

    Bytes pass through: arrays of vectors are bound pre-encoded, because asyncpg would
    read a list of lists as a two-dimensional array.
    """
    if isinstance(vector, bytes):
        return vector
    dim = len(vector)
    return _vector_struct(dim).pack(dim, 0, *vector)


def _decode_vector(data: bytes) -> list[float]:
    dim = struct.unpack_from(">H", data)[0]
    return list(_vector_struct(dim).unpack(data)[2:])


def _encode_jsonb(value: Any) -> str:
    # Most metadata and extensions are empty; skipping the encoder for them is measurable.
    if value == {} and isinstance(value, dict):
        return "{}"
    return json.dumps(value)


def _decode_jsonb(text: str) -> Any:
    # Every record row carries metadata and extensions, usually ``{}``: decoding them was the
    # largest single Python cost of a search (benchmarks/results/profile.md).
    if text == "{}":
        return {}
    return json.loads(text)


async def init_connection(conn: asyncpg.Connection, vector_schema: str) -> None:
    """Per-connection codecs: jsonb as Python objects, pgvector ``vector`` in binary."""
    await conn.set_type_codec(
        "jsonb",
        encoder=_encode_jsonb,
        decoder=_decode_jsonb,
        schema="pg_catalog",
        format="text",
    )
    await conn.set_type_codec(
        "vector",
        encoder=encode_vector,
        decoder=_decode_vector,
        schema=vector_schema,
        format="binary",
    )
