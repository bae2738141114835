"""How an openmem record rides inside a powermem memory, and back (see ``openmem.translation``).

powermem keeps the text, timestamps and its identity keys at the top level and everything else
in ``metadata``, where it also adds its own bookkeeping (access counts, retention, ...). It
bumps its own ``updated_at`` on every read (access tracking), so the record's ``updated_at``
is kept in the ``openmem`` object instead. powermem ids are 64-bit integers; openmem hands
them out as decimal strings.
"""

from __future__ import annotations

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
    "fields_of_input",
    "fields_of_record",
    "input_digest",
    "is_powermem_id",
    "openmem_fields",
    "record_from_raw",
    "superseded_marker",
    "user_key",
]


def is_powermem_id(value: str) -> bool:
    """Whether ``value`` can be a powermem id (a non-negative 64-bit decimal integer)."""
    return value.isascii() and value.isdigit() and len(value) <= 20 and int(value) < 2**64


def fields_of_record(
    caller: Caller, record: MemoryRecord, previous: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``openmem`` object of an updated record, our ``updated_at`` included."""
    return _fields_of_record(caller, record, previous, keep_updated_at=True)


def record_from_raw(caller: Caller, raw: Mapping[str, Any]) -> MemoryRecord:
    """A ``MemoryRecord`` from a powermem memory dict (``get``/``get_all``/``search`` shape)."""
    return _record_from_raw(caller, raw, sdk="powermem", updated_at_is_ours=True)
