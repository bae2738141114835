"""The one keyset cursor codec of every provider that paginates.

A cursor is opaque to callers: the ``(created_at, id)`` of the last item of a page, as
compact JSON, base64url without padding, behind a version prefix (``c1.``) so a future format
can be told apart. Pages run newest first; the next page holds what sorts strictly before the
cursor. The postgres provider turns the position into a ``WHERE (created_at, id) < ...``; the
providers that paginate in Python (``openmem.matching.page_of``) compare tuples.

    >>> decode_cursor(encode_cursor(record.created_at, record.id))
    (datetime(...), 'mem_...')
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from openmem.errors import InvalidRequestError

__all__ = ["CURSOR_PREFIX", "decode_cursor", "encode_cursor"]

CURSOR_PREFIX = "c1."
"""The version of the cursor format; a cursor without it is refused."""


def encode_cursor(created_at: datetime, memory_id: str) -> str:
    """An opaque keyset cursor: the position after (``created_at``, ``memory_id``)."""
    raw = json.dumps([created_at.isoformat(), memory_id], separators=(",", ":")).encode()
    return CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor points after; ``InvalidRequestError`` for anything malformed.

    A timestamp without a zone is read as UTC, the zone every provider stores.
    """
    try:
        if not cursor.startswith(CURSOR_PREFIX):
            raise ValueError("unknown cursor version")
        body = cursor[len(CURSOR_PREFIX) :]
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        stamp, memory_id = json.loads(raw)
        created_at = datetime.fromisoformat(stamp)
        if not isinstance(memory_id, str):
            raise ValueError("the id of a cursor is a string")
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequestError("cursor is malformed", field="cursor") from exc
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    return created_at, memory_id
