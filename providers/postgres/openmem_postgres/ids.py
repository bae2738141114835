"""Time-ordered ids (ULID text) for memories and audit entries, made cheaply.

A ULID is 48 bits of milliseconds then 80 random bits, written as 26 Crockford base-32
digits, so ids sort by creation time. ``python-ulid`` builds an object and validates it for
each id (4 % of a search's Python time in benchmarks/results/profile.md); this writes the
same text from the integer, two digits per table lookup (about half the time).
"""

from __future__ import annotations

import os
import time

__all__ = ["ulid_text"]

_DIGITS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = tuple(a + b for a in _DIGITS for b in _DIGITS)
"""The two digits of each 10-bit value."""
_SHIFTS = tuple(range(120, -1, -10))
"""13 pairs are 130 bits: the 128 of a ULID under two zero bits, as ULID text has them."""


def ulid_text() -> str:
    """A fresh ULID as its 26-character text (the form ``str(ulid.ULID())`` gives)."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    return "".join([_PAIRS[(value >> shift) & 0x3FF] for shift in _SHIFTS])
