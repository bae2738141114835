"""Memory and audit ids: ULID text, ordered by time."""

from __future__ import annotations

import random

import ulid
from openmem_postgres import ids
from openmem_postgres.store import audit_id, memory_id


def test_the_text_is_what_python_ulid_writes_for_the_same_value() -> None:
    rng = random.Random(7)
    for value in [0, 2**128 - 1, *(rng.getrandbits(128) for _ in range(500))]:
        text = "".join(ids._PAIRS[(value >> shift) & 0x3FF] for shift in ids._SHIFTS)
        assert text == str(ulid.ULID.from_int(value))


def test_a_fresh_id_carries_the_current_millisecond_and_sorts_by_it() -> None:
    before = ulid.ULID()
    made = ulid.ULID.from_str(ids.ulid_text())
    assert made.milliseconds >= before.milliseconds
    assert memory_id().startswith("mem_")
    assert audit_id().startswith("aud_")
    assert len({ids.ulid_text() for _ in range(1000)}) == 1000
