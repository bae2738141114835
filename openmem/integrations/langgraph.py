"""``OpenMemStore``: openmem as LangGraph's long-term memory store (extra ``langgraph``).

It implements ``langgraph.store.base.BaseStore`` (``batch``/``abatch`` with ``GetOp``,
``PutOp``, ``SearchOp``, ``ListNamespacesOp``) over any provider that declares
``features.client_keys``::

    from openmem import Memory
    from openmem.integrations.langgraph import OpenMemStore

    store = OpenMemStore(Memory(provider="postgres", url=...), user_id="alice")
    graph = builder.compile(store=store)

Mapping, one way: the store acts for one openmem user (``user_id``; the namespace is the
``Memory``'s own); a LangGraph namespace tuple is an openmem scope whose segments are the
labels, percent-encoded (``("users", "a/b")`` is scope ``users/a%2Fb``); the item key is the
memory's client key (a put is an upsert); the item value is the memory's ``metadata``, and its
content is the text of the ``index`` fields (else the value as JSON), which is what a search
with ``query`` ranks by. ``filter`` matches value fields (``$eq``, ``$ne``, ``$gt``, ``$gte``,
``$lt``, ``$lte`` too). Items never expire (``supports_ttl`` is False).

Differences from ``InMemoryStore``: search without ``query`` returns the newest items first
(``InMemoryStore``: insertion order), and ``list_namespaces`` lists the namespaces that hold
items (``InMemoryStore`` also lists namespaces emptied by deletes or only read).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import quote, unquote

import anyio.to_thread
from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)
from langgraph.store.base.embed import get_text_at_path, tokenize_path

from openmem.errors import InvalidRequestError, NotFoundError
from openmem.memory import AsyncMemory
from openmem.models import MemoryRecord
from openmem.sync import Memory

__all__ = ["OpenMemStore"]

_PAGE = 500
_SEARCH_MAX = 100
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: a is not None and a > b,
    "$gte": lambda a, b: a is not None and a >= b,
    "$lt": lambda a, b: a is not None and a < b,
    "$lte": lambda a, b: a is not None and a <= b,
}


class OpenMemStore(BaseStore):
    """A LangGraph ``BaseStore`` over openmem, for one user (see the module docstring).

    ``memory`` is an ``openmem.Memory`` (sync and async graphs) or an ``AsyncMemory``
    (``abatch`` only). ``index`` lists the value fields embedded for search (LangGraph's
    ``IndexConfig["fields"]``); a ``PutOp`` may name its own, or ``index=False``.
    """

    supports_ttl = False

    def __init__(
        self,
        memory: Memory | AsyncMemory,
        *,
        user_id: str,
        index: Sequence[str] | None = None,
    ) -> None:
        self.memory = memory
        self.user_id = user_id
        self.index_fields = list(index) if index is not None else None

    # -- BaseStore -----------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the operations on the ``Memory``'s loop (reads see the state before puts)."""
        if not isinstance(self.memory, Memory):
            raise TypeError("OpenMemStore over an AsyncMemory is async only: use abatch")
        memory, listed = self.memory, list(ops)

        async def run() -> list[Result]:
            return await self._run(memory.async_memory, listed)

        return memory.run(run)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the operations; reads see the state before the batch's puts, as LangGraph's."""
        listed = list(ops)
        if isinstance(self.memory, Memory):
            return await anyio.to_thread.run_sync(self.batch, listed)
        return await self._run(self.memory, listed)

    # -- the operations ------------------------------------------------------------------

    async def _run(self, mem: AsyncMemory, ops: list[Op]) -> list[Result]:
        results: list[Result] = []
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for op in ops:
            if isinstance(op, GetOp):
                results.append(await self._get(mem, op))
            elif isinstance(op, SearchOp):
                results.append(await self._search(mem, op))
            elif isinstance(op, ListNamespacesOp):
                results.append(await self._namespaces(mem, op))
            elif isinstance(op, PutOp):
                puts[(op.namespace, op.key)] = op  # the last put of a key wins
                results.append(None)
            else:
                raise ValueError(f"unknown operation type: {type(op).__name__}")
        for op in puts.values():
            await self._put(mem, op)
        return results

    async def _get(self, mem: AsyncMemory, op: GetOp) -> Item | None:
        try:
            record = await mem.get_by_key(
                op.key, user_id=self.user_id, scope=scope_of(op.namespace)
            )
        except NotFoundError:
            return None
        return _item(record)

    async def _put(self, mem: AsyncMemory, op: PutOp) -> None:
        scope = scope_of(op.namespace)
        if op.value is None:
            # Deleting what is not there is no error in LangGraph.
            with contextlib.suppress(NotFoundError):
                await mem.delete_by_key(op.key, user_id=self.user_id, scope=scope)
            return
        if op.ttl is not None:
            raise NotImplementedError("OpenMemStore does not support ttl")
        await mem.add(
            self._text(op), user_id=self.user_id, scope=scope, key=op.key, metadata=op.value
        )

    def _text(self, op: PutOp) -> str:
        fields = self.index_fields if op.index is None else (op.index or None)
        if fields:
            texts = [t for f in fields for t in get_text_at_path(op.value, tokenize_path(f))]
            if any(t.strip() for t in texts):
                return "\n".join(t for t in texts if t.strip())
        return json.dumps(op.value, sort_keys=True, ensure_ascii=False, default=str)

    async def _search(self, mem: AsyncMemory, op: SearchOp) -> list[SearchItem]:
        scope = scope_of(op.namespace_prefix) if op.namespace_prefix else None
        scored: list[tuple[MemoryRecord, float | None]]
        pushed = {k: v for k, v in (op.filter or {}).items() if _scalar(v)}
        rest = {k: v for k, v in (op.filter or {}).items() if k not in pushed}
        if op.query:
            hits = await mem.search(
                op.query,
                self.user_id,
                scope=scope,
                filters=pushed or None,
                limit=_SEARCH_MAX if rest else min(_SEARCH_MAX, op.offset + op.limit),
            )
            scored = [(h.memory, h.score) for h in hits if h.memory.key is not None]
        else:
            records = await self._all(mem, scope)
            scored = [(r, None) for r in records if _matches(r.metadata, pushed)]
        kept = [(r, s) for r, s in scored if _matches(r.metadata, rest)]
        return [
            SearchItem(
                namespace=namespace_of(record.scope),
                key=record.key or "",
                value=dict(record.metadata),
                created_at=record.created_at,
                updated_at=record.updated_at or record.created_at,
                score=score,
            )
            for record, score in kept[op.offset : op.offset + op.limit]
        ]

    async def _namespaces(self, mem: AsyncMemory, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        namespaces = {namespace_of(r.scope) for r in await self._all(mem, None)}
        chosen = [
            ns for ns in namespaces if all(_does_match(c, ns) for c in op.match_conditions or ())
        ]
        if op.max_depth is not None:
            chosen = list({ns[: op.max_depth] for ns in chosen})
        return sorted(chosen)[op.offset : op.offset + op.limit]

    async def _all(self, mem: AsyncMemory, scope: str | None) -> list[MemoryRecord]:
        """Every keyed memory of the user under ``scope``, most recently written first."""
        records: list[MemoryRecord] = []
        cursor: str | None = None
        while True:
            page = await mem.list(self.user_id, scope=scope, limit=_PAGE, cursor=cursor)
            records.extend(r for r in page.items if r.key is not None and r.scope is not None)
            cursor = page.next_cursor
            if cursor is None:
                break
        records.sort(key=lambda r: r.updated_at or r.created_at, reverse=True)
        return records


def scope_of(namespace: tuple[str, ...]) -> str:
    """The openmem scope of a LangGraph namespace: its labels, percent-encoded, joined by /."""
    if not namespace:
        raise InvalidRequestError("a LangGraph namespace has at least one label", field="scope")
    return "/".join(quote(label, safe="") for label in namespace)


def namespace_of(scope: str | None) -> tuple[str, ...]:
    """The LangGraph namespace of an openmem scope (the inverse of ``scope_of``)."""
    return tuple(unquote(segment) for segment in (scope or "").split("/") if segment)


def _item(record: MemoryRecord) -> Item:
    return Item(
        value=dict(record.metadata),
        key=record.key or "",
        namespace=namespace_of(record.scope),
        created_at=record.created_at,
        updated_at=record.updated_at or record.created_at,
    )


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _matches(value: dict[str, Any], conditions: dict[str, Any]) -> bool:
    for field, wanted in conditions.items():
        have = value.get(field)
        if isinstance(wanted, dict) and any(k.startswith("$") for k in wanted):
            for operator, operand in wanted.items():
                compare = _OPERATORS.get(operator)
                if compare is None:
                    raise InvalidRequestError(f"unsupported filter operator {operator!r}")
                try:
                    if not compare(have, operand):
                        return False
                except TypeError:
                    return False
        elif have != wanted:
            return False
    return True


def _does_match(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = condition.path
    if len(namespace) < len(path):
        return False
    pairs = (
        zip(namespace, path, strict=False)
        if condition.match_type == "prefix"
        else zip(reversed(namespace), reversed(path), strict=False)
    )
    return all(p == "*" or n == p for n, p in pairs)
