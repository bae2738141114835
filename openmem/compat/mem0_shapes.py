"""mem0's shapes, translated: entity ids to an openmem user, filters, messages, record dicts.

mem0 names a memory's owner by ``user_id``, ``agent_id`` or ``run_id`` (openmem's
``agent_id`` and ``session_id``), takes them as keywords or in ``filters``, and answers with
dicts (``{"id", "memory", "hash", ...}``). These functions are the translation, in both
directions, used by ``openmem.compat.mem0``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from openmem.models import MemoryRecord

__all__ = [
    "ROLE_EXTENSION",
    "Messages",
    "as_messages",
    "entity_and_filters",
    "in_entity",
    "mem0_shape",
    "owner_of",
]

ROLE_EXTENSION = "x-mem0-compat"
"""Where the drop-in keeps what mem0 records and openmem has no field for (the role)."""
_ENTITY_KEYS = ("user_id", "agent_id", "run_id")

Messages = str | Mapping[str, Any] | Sequence[Mapping[str, Any]]
"""What mem0's ``add`` takes: a text, one message, or a list of messages."""


def owner_of(user_id: str | None, agent_id: str | None, run_id: str | None) -> str:
    """The openmem user of a mem0 call: the user, else ``agent:<id>``, else ``run:<id>``."""
    if user_id is not None:
        return user_id
    if agent_id is not None:
        return f"agent:{agent_id}"
    if run_id is not None:
        return f"run:{run_id}"
    raise ValueError("at least one of user_id, agent_id or run_id is required")


def entity_and_filters(
    filters: Mapping[str, Any] | None, **given: str | None
) -> tuple[dict[str, str | None], dict[str, Any]]:
    """The entity ids (from keywords or ``filters``) and the metadata equality filters."""
    rest = dict(filters or {})
    entity: dict[str, str | None] = {}
    for key in _ENTITY_KEYS:
        from_filters = rest.pop(key, None)
        keyword = given.get(key)
        if keyword is not None and from_filters is not None and keyword != from_filters:
            raise ValueError(f"{key} and filters[{key!r}] disagree")
        entity[key] = keyword if keyword is not None else from_filters
    for key, value in rest.items():
        if key in ("AND", "OR", "NOT") or isinstance(value, Mapping | list) or value == "*":
            raise ValueError(f"filter {key!r}: only equality on metadata is supported")
    return entity, rest


def in_entity(record: MemoryRecord, agent_id: str | None, run_id: str | None) -> bool:
    """Whether ``record`` belongs to the agent and run asked for (None: any)."""
    return (agent_id is None or record.agent_id == agent_id) and (
        run_id is None or record.session_id == run_id
    )


def as_messages(messages: Messages) -> list[Mapping[str, Any]]:
    """mem0's ``messages`` argument as a list of messages."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if isinstance(messages, Mapping):
        return [messages]
    return list(messages)


def mem0_shape(record: MemoryRecord, owner: str) -> dict[str, Any]:
    """A record as mem0 returns one from ``get``, ``get_all`` and ``search``."""
    shaped: dict[str, Any] = {
        "id": record.id,
        "memory": record.content,
        "hash": hashlib.md5(record.content.encode()).hexdigest(),
        "metadata": dict(record.metadata) or None,
        "created_at": record.created_at.isoformat(),
        "updated_at": (record.updated_at or record.created_at).isoformat(),
    }
    if owner == record.user_id and not owner.startswith(("agent:", "run:")):
        shaped["user_id"] = record.user_id
    if record.agent_id is not None:
        shaped["agent_id"] = record.agent_id
    if record.session_id is not None:
        shaped["run_id"] = record.session_id
    compat = record.extensions.get(ROLE_EXTENSION)
    if isinstance(compat, Mapping) and "role" in compat:
        shaped["role"] = compat["role"]
    return shaped
