"""Assertions shared by the checks: typed errors with stable codes, record equality."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import Any

from openmem.errors import OMPError
from openmem.models import MemoryRecord, SearchHit

__all__ = ["assert_hits_well_formed", "expect_error", "same_fields"]


async def expect_error(call: Awaitable[Any], *codes: str, what: str) -> OMPError:
    """Await ``call`` and require a typed ``OMPError`` whose stable code is one of ``codes``."""
    try:
        result = await call
    except OMPError as exc:
        if exc.error_code not in codes:
            raise AssertionError(
                f"{what}: raised {type(exc).__name__} with code {exc.error_code!r}; "
                f"expected {' or '.join(map(repr, codes))}"
            ) from exc
        return exc
    except Exception as exc:
        raise AssertionError(
            f"{what}: raised untyped {type(exc).__name__}: {exc}; expected an OMPError with "
            f"code {' or '.join(map(repr, codes))}"
        ) from exc
    raise AssertionError(
        f"{what}: returned {result!r}; expected an error with code {' or '.join(codes)}"
    )


def same_fields(record: MemoryRecord, expected: dict[str, Any], *, what: str) -> None:
    """Require ``record`` to hold each field of ``expected`` (lists compared as sets for tags)."""
    for name, want in expected.items():
        have = getattr(record, name)
        if name == "tags":
            assert sorted(have) == sorted(want), f"{what}: tags are {have!r}, expected {want!r}"
        elif name == "source" and want is not None:
            for key, value in want.items():
                got = getattr(have, key, None) if have is not None else None
                assert got == value, f"{what}: source.{key} is {got!r}, expected {value!r}"
        else:
            assert have == want, f"{what}: {name} is {have!r}, expected {want!r}"


def assert_hits_well_formed(
    hits: Iterable[SearchHit], *, user_id: str, limit: int, what: str
) -> list[SearchHit]:
    """Scores in [0, 1], best first, at most ``limit``, every hit of ``user_id``, no repeats."""
    hits = list(hits)
    assert len(hits) <= limit, f"{what}: {len(hits)} hits for limit={limit}"
    scores = [h.score for h in hits]
    assert all(0.0 <= s <= 1.0 for s in scores), f"{what}: score outside [0, 1]: {scores}"
    assert scores == sorted(scores, reverse=True), f"{what}: hits not best first: {scores}"
    owners = {h.memory.user_id for h in hits}
    assert owners <= {user_id}, f"{what}: hits of other users {owners - {user_id}}"
    ids = [h.memory.id for h in hits]
    assert len(ids) == len(set(ids)), f"{what}: the same memory twice in one result"
    return hits
