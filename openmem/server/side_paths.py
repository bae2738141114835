"""Key restrictions on the side paths of a verb: every record it can touch or learn about.

The routes check a request's own fields against the key (``Principal``). A verb also reaches
records the request names only indirectly, and each is checked here:

- an idempotency replay hands back a stored record: only if the key could read it, and a
  refusal says no more than a conflict inside the key's view would;
- ``supersedes`` (add, a conversation add, batch add, update) retires other memories: the
  key needs ``update``, and each must be one it can write (a memory outside its scopes is
  "not found", as on the by-id verbs). This check at write time is what keeps the read-time
  superseded set honest: a read retires what the user's memories name, and only a key that
  could write both a memory and the one it names can have put that name there;
- a by-id verb of a scope-restricted key looks the memory up first with ``lookup``, which
  writes no audit entry, so a refused verb leaves no record of a read that did not happen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openmem.errors import ConflictError, NotFoundError, ScopeDeniedError
from openmem.models import MemoryRecord
from openmem.provider import Caller, Provider
from openmem.server.auth import Principal

__all__ = [
    "IDEMPOTENCY_CONFLICT",
    "idempotency_conflict_for",
    "require_replay_visible",
    "require_supersedes_writable",
    "require_visible_by_id",
    "scopes_restricted",
]

IDEMPOTENCY_CONFLICT = "the idempotency key is already in use"
"""The one message a scope-restricted key sees for any idempotency conflict."""


def scopes_restricted(principal: Principal) -> bool:
    """Whether the key is bound to scope prefixes (only those need side-path lookups)."""
    return principal.key is not None and principal.key.scopes is not None


def require_replay_visible(principal: Principal, records: Iterable[MemoryRecord]) -> None:
    """Raise the generic idempotency conflict if a returned record lies outside the key."""
    if any(not principal.can_see(record) for record in records):
        raise ConflictError(IDEMPOTENCY_CONFLICT, field="idempotency_key")


def idempotency_conflict_for(principal: Principal, exc: ConflictError) -> ConflictError:
    """The conflict to answer: for a restricted key, one message whatever the stored record."""
    if scopes_restricted(principal) and exc.field == "idempotency_key":
        return ConflictError(IDEMPOTENCY_CONFLICT, field="idempotency_key")
    return exc


async def require_supersedes_writable(
    principal: Principal, provider: Provider[Any], caller: Caller, ids: Iterable[str]
) -> None:
    """Each superseded id must be a memory the key could write.

    Retiring a memory changes it, so the key needs ``update``; a scope-restricted key may
    name only the caller's memories inside its scopes.
    """
    named = list(dict.fromkeys(ids))
    key = principal.key
    if not named or key is None:
        return
    if not key.allows_verb("update"):
        raise ScopeDeniedError(
            "this API key may not retire memories (supersedes needs 'update')",
            field="supersedes",
        )
    if key.scopes is None:
        return
    for memory_id in named:
        try:
            record = await provider.lookup(caller, memory_id)
        except NotFoundError:
            raise _superseded_not_found(memory_id) from None
        if not principal.can_see(record):
            raise _superseded_not_found(memory_id)


def _superseded_not_found(memory_id: str) -> NotFoundError:
    return NotFoundError(f"superseded memory {memory_id!r} not found", field="supersedes")


async def require_visible_by_id(
    principal: Principal, provider: Provider[Any], caller: Caller, memory_id: str
) -> None:
    """``NotFoundError`` unless the memory lies inside the key's scopes (no audit entry)."""
    if scopes_restricted(principal):
        principal.require_visible(await provider.lookup(caller, memory_id), memory_id)
