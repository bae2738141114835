"""openmem-notes: a complete small openmem provider, memories kept in a dict.

It implements the REQUIRED verbs (add, get, update, delete, list, search) and declares
nothing more, so the conformance suite checks exactly those and skips the OPTIONAL ones.
Every rule of ``openmem.provider`` that a real backend must follow shows up here in
miniature:

- memories are keyed by (namespace, user_id) first: another user's memory cannot be found,
  so by-id verbs raise ``NotFoundError`` for it by construction;
- ``update`` is a merge patch (``MemoryPatch.apply_to``);
- ``list`` is newest first with an opaque keyset cursor and never an empty last page;
- scope filters use ``openmem.scopes.scope_matches``, the one matcher every provider agrees
  with;
- no await sits between reading and writing state, so a cancelled call changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import json
import re
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import Field

from openmem.errors import InvalidRequestError, NotFoundError
from openmem.models import (
    Capabilities,
    CapabilityFeatures,
    ListQuery,
    MemoryInput,
    MemoryPage,
    MemoryPatch,
    MemoryRecord,
    SearchHit,
    SearchQuery,
    check_content_length,
    new_memory_id,
)
from openmem.provider import Caller, Provider, ProviderOptions
from openmem.scopes import scope_matches

__all__ = ["NotesOptions", "NotesProvider"]

_WORD = re.compile(r"\w+")


class NotesOptions(ProviderOptions):
    """Options of the notes provider (``AsyncMemory(provider="notes", max_content_length=...)``)."""

    max_content_length: int = Field(default=10_000, ge=1)
    """Longest memory accepted, in characters; declared in ``capabilities()``."""


class NotesProvider(Provider[NotesOptions]):
    """Memories in a dict per (namespace, user); nothing survives the process."""

    name: ClassVar[str] = "notes"
    Options = NotesOptions

    def __init__(self, options: NotesOptions | None = None, /, **kwargs: object) -> None:
        super().__init__(options, **kwargs)
        self._notes: dict[tuple[str, str], dict[str, MemoryRecord]] = {}

    async def close(self) -> None:
        """Nothing to release; safe to call twice."""

    async def capabilities(self) -> Capabilities:
        """The REQUIRED verbs only, and the content limit this provider enforces."""
        return Capabilities(
            provider=self.name,
            verbs=["add", "get", "update", "delete", "list", "search"],
            features=CapabilityFeatures(
                scopes="native",
                max_content_length=self.options.max_content_length,
                cancellation="native",
            ),
        )

    def _bucket(self, caller: Caller) -> dict[str, MemoryRecord]:
        return self._notes.setdefault((caller.namespace, caller.user_id), {})

    def _owned(self, caller: Caller, memory_id: str) -> MemoryRecord:
        record = self._bucket(caller).get(memory_id)
        if record is None:
            raise NotFoundError(f"memory {memory_id!r} not found", provider=self.name)
        return record

    async def add(self, caller: Caller, item: MemoryInput) -> MemoryRecord:
        """Store the memory under the caller's namespace and user."""
        check_content_length(item.content, self.options.max_content_length)
        fields = item.model_dump(exclude={"idempotency_key", "user_id"}, exclude_none=True)
        record = MemoryRecord(
            id=new_memory_id(),
            user_id=caller.user_id,  # from the Caller, never from the request
            created_at=datetime.now(UTC),
            **fields,
        )
        self._bucket(caller)[record.id] = record
        return record

    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        """The caller's memory, or ``NotFoundError``."""
        return self._owned(caller, memory_id)

    async def update(self, caller: Caller, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
        """Apply the merge patch; an invalid result raises before anything is stored."""
        if patch.content is not None:
            check_content_length(patch.content, self.options.max_content_length)
        updated = patch.apply_to(self._owned(caller, memory_id), now=datetime.now(UTC))
        self._bucket(caller)[memory_id] = updated
        return updated

    async def delete(self, caller: Caller, memory_id: str) -> None:
        """Remove the caller's memory, or ``NotFoundError``."""
        self._owned(caller, memory_id)
        del self._bucket(caller)[memory_id]

    async def list(self, caller: Caller, query: ListQuery) -> MemoryPage:
        """Newest first; the cursor is the (created_at, id) of the last item returned."""
        after = _decode_cursor(query.cursor) if query.cursor else None
        rows = sorted(
            (
                r
                for r in self._bucket(caller).values()
                if scope_matches(query.scope, r.scope)
                and set(query.tags) <= set(r.tags)
                and (query.since is None or r.created_at >= query.since)
                and (query.until is None or r.created_at < query.until)
                and (after is None or (r.created_at, r.id) < after)
            ),
            key=lambda r: (r.created_at, r.id),
            reverse=True,
        )
        page = rows[: query.limit]
        # Only promise another page when one exists: no empty last page.
        next_cursor = _encode_cursor(page[-1]) if len(rows) > query.limit else None
        return MemoryPage(items=page, next_cursor=next_cursor)

    async def search(self, caller: Caller, query: SearchQuery) -> builtins.list[SearchHit]:
        """Word-overlap scoring (Jaccard), in [0, 1], best first."""
        words = _words(query.query)
        scored = []
        for record in self._bucket(caller).values():
            if not scope_matches(query.scope, record.scope):
                continue
            if not set(query.tags) <= set(record.tags):
                continue
            if any(record.metadata.get(k) != v for k, v in query.filters.items()):
                continue
            have = _words(record.content)
            score = len(words & have) / len(words | have) if words | have else 0.0
            if score > 0 and (query.min_score is None or score >= query.min_score):
                scored.append(SearchHit(memory=record, score=score))
        scored.sort(key=lambda h: (-h.score, h.memory.id))
        return scored[: query.limit]


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def _encode_cursor(record: MemoryRecord) -> str:
    raw = json.dumps([record.created_at.isoformat(), record.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, memory_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(created), str(memory_id)
    except (ValueError, TypeError, binascii.Error):
        # A cursor we did not issue is the caller's mistake: a typed error, not a traceback.
        raise InvalidRequestError("malformed cursor", field="cursor") from None
