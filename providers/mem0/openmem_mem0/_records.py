"""How an openmem record rides inside a mem0 memory, and back (see ``openmem.translation``).

mem0 keeps ``data`` (the text), timestamps and its identity keys at the top level of a
memory's payload and everything else in ``metadata``; mem0's own ``updated_at`` is reliable,
so it is the record's. Platform adds carry a random ``om_ref`` token so a queued add can be
found once mem0 has processed it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from openmem.models import MemoryRecord
from openmem.provider import Caller
from openmem.translation import (
    IDEMPOTENCY_KEY,
    OPENMEM_KEY,
    fields_of_input,
    input_digest,
    openmem_fields,
    superseded_marker,
    user_key,
)
from openmem.translation import fields_of_record as _fields_of_record
from openmem.translation import record_from_raw as _record_from_raw

__all__ = [
    "IDEMPOTENCY_KEY",
    "OPENMEM_KEY",
    "REF_KEY",
    "fields_of_input",
    "fields_of_record",
    "input_digest",
    "is_uuid",
    "openmem_fields",
    "record_from_raw",
    "superseded_marker",
    "user_key",
]

REF_KEY = "om_ref"
"""A random token per add: finds a platform memory once its queued add is processed."""


def is_uuid(value: str) -> bool:
    """Whether ``value`` is a UUID (mem0's ids); anything else cannot exist in the store."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def fields_of_record(
    caller: Caller, record: MemoryRecord, previous: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``openmem`` object of an updated record (mem0 keeps ``updated_at`` itself)."""
    return _fields_of_record(caller, record, previous, keep_updated_at=False)


def record_from_raw(caller: Caller, raw: Mapping[str, Any]) -> MemoryRecord:
    """A ``MemoryRecord`` from a mem0 memory dict (``get``/``get_all``/``search`` shape)."""
    return _record_from_raw(caller, raw, sdk="mem0", updated_at_is_ours=False)
