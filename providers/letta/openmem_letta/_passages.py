"""How an openmem record rides in a Letta archival passage: its text and its tags.

Passages created through an agent carry only ``text``, ``created_at`` and ``tags`` (Letta
keeps passage metadata for archive-level writes only), so every openmem field travels in tags:

- ``om:id:<id>``: the openmem id. Letta cannot update a passage, so ``update`` writes a new
  passage and deletes the old one; the openmem id stays, the Letta passage id changes.
- ``om:tag:<tag>``: each of the memory's tags, so Letta filters searches by tag itself
  (``tag_match_mode="all"``).
- ``om:rec:<json>``: every other field (``openmem.translation``'s record envelope: scope,
  source, confidence, validity, agent/session, metadata, ``x-`` extensions, ``updated_at``),
  read back exactly.

The passage's own ``created_at`` is the record's (it is set on create, and kept across
updates). A passage without ``om:id:`` was not written by openmem and is ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from openmem.models import MemoryRecord
from openmem.provider import Caller
from openmem.translation import OPENMEM_KEY, record_from_raw

__all__ = [
    "ID_TAG",
    "StoredPassage",
    "id_tag",
    "passage_tags",
    "records_of",
    "tag_tag",
]

ID_TAG = "om:id:"
_TAG = "om:tag:"
_REC = "om:rec:"


@dataclass(frozen=True, slots=True)
class StoredPassage:
    """A Letta passage as the provider needs it, whichever client fetched it."""

    id: str
    text: str
    tags: tuple[str, ...]
    created_at: datetime | None
    score: float = 0.0

    def memory_id(self) -> str | None:
        """The openmem id this passage belongs to, or None when openmem did not write it."""
        for tag in self.tags:
            if tag.startswith(ID_TAG):
                return tag.removeprefix(ID_TAG)
        return None

    def fields(self) -> dict[str, Any]:
        """The ``om:rec:`` envelope (empty when absent or unreadable)."""
        for tag in self.tags:
            if tag.startswith(_REC):
                try:
                    value = json.loads(tag.removeprefix(_REC))
                except json.JSONDecodeError:
                    return {}
                return value if isinstance(value, dict) else {}
        return {}


def id_tag(memory_id: str) -> str:
    """The tag that finds every passage of one memory."""
    return f"{ID_TAG}{memory_id}"


def tag_tag(tag: str) -> str:
    """The Letta tag standing for one of a memory's tags."""
    return f"{_TAG}{tag}"


def passage_tags(memory_id: str, tags: Sequence[str], fields: dict[str, Any]) -> list[str]:
    """The tags of a new passage for ``memory_id``."""
    envelope = json.dumps(fields, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return [id_tag(memory_id), *(tag_tag(t) for t in tags), f"{_REC}{envelope}"]


def records_of(caller: Caller, passages: Iterable[StoredPassage]) -> list[MemoryRecord]:
    """The caller's records among ``passages``, one per openmem id, in first-seen order.

    Several passages of one id exist briefly during an update (new written, old not yet
    deleted) or after one was cancelled between the two steps: the newest ``updated_at``
    wins, so a read sees the update wholly or not at all.
    """
    chosen: dict[str, tuple[StoredPassage, dict[str, Any]]] = {}
    for passage in passages:
        memory_id = passage.memory_id()
        fields = passage.fields()
        if memory_id is None or not _belongs(caller, fields):
            continue
        current = chosen.get(memory_id)
        if current is None or _revision(fields) > _revision(current[1]):
            chosen[memory_id] = (passage, fields)
    records = []
    for memory_id, (passage, fields) in chosen.items():
        raw = {
            "id": memory_id,
            "content": passage.text,
            "created_at": passage.created_at.isoformat() if passage.created_at else None,
            "metadata": {OPENMEM_KEY: fields},
        }
        records.append(record_from_raw(caller, raw, sdk="letta", updated_at_is_ours=True))
    return records


def _revision(fields: dict[str, Any]) -> datetime:
    try:
        moment = datetime.fromisoformat(str(fields.get("updated_at")).replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _belongs(caller: Caller, fields: dict[str, Any]) -> bool:
    # The agent is already per (namespace, user); this guards against a shared agent name.
    return fields.get("namespace") == caller.namespace and fields.get("user_id") == caller.user_id
