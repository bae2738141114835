"""Group commit for mem0's SQLite history: concurrent adds share one transaction.

mem0 OSS writes one history row per add (``SQLiteManager.add_history``) in a transaction of
its own, one at a time (one connection behind one ``threading.Lock``). With the default
rollback journal a commit is two ``fsync`` calls, about 1 ms on this project's machines, so
that lock caps a whole process's adds near 1 / commit time however many worker threads run
them: at c=32 on pgvector an add held its worker ~15 ms, ~13 of them in ``add_history``
waiting for the lock (``benchmarks/results/thread_tier_pgvector_c32.md``).

``install_group_commit`` replaces ``add_history`` on one ``SQLiteManager`` with
``GroupCommittedHistory.add_history``: a caller queues its row, then takes mem0's own lock.
The first to get it writes every queued row in one transaction and marks them written; a
caller whose row a previous holder already committed returns without writing. While one
commit runs, the rows of the next callers gather, so the commit rate stops bounding the add
rate (the Postgres provider's ``group_commit.py`` does the same for its inserts).

Durability is unchanged: ``add_history`` still returns only after a ``COMMIT`` that holds its
row, on mem0's connection with mem0's journal and ``synchronous`` settings. A failed group
commit is retried row by row, so each row's caller gets its own outcome, as before.
"""

from __future__ import annotations

import inspect
import logging
import sqlite3
import threading
import uuid
from typing import Any

__all__ = ["GroupCommittedHistory", "install_group_commit"]

logger = logging.getLogger(__name__)

# The columns mem0 2.x writes, in the order of its own INSERT.
_INSERT = (
    "INSERT INTO history (id, memory_id, old_memory, new_memory, event,"
    " created_at, updated_at, is_deleted, actor_id, role)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# mem0's add_history parameters this module writes; any other signature is left alone.
_PARAMETERS = (
    "self",
    "memory_id",
    "old_memory",
    "new_memory",
    "event",
    "created_at",
    "updated_at",
    "is_deleted",
    "actor_id",
    "role",
)


class _PendingRow:
    """One caller's history row and, once a group commit ran, its outcome."""

    __slots__ = ("error", "params", "written")

    def __init__(self, params: tuple[Any, ...]) -> None:
        self.params = params
        self.written = False
        self.error: BaseException | None = None


class GroupCommittedHistory:
    """``add_history`` for one mem0 ``SQLiteManager``, committing concurrent rows together."""

    def __init__(self, manager: Any) -> None:
        self._manager = manager
        self._queue_lock = threading.Lock()  # guards _pending only, never held during I/O
        self._pending: list[_PendingRow] = []
        self.commits = 0
        """Transactions written (for tests and benchmarks: rows / commits is the group size)."""
        self.rows = 0
        """History rows written through this object."""

    def add_history(
        self,
        memory_id: str,
        old_memory: str | None,
        new_memory: str | None,
        event: str,
        *,
        created_at: str | None = None,
        updated_at: str | None = None,
        is_deleted: int = 0,
        actor_id: str | None = None,
        role: str | None = None,
    ) -> None:
        """mem0's ``add_history``: returns once a committed transaction holds the row."""
        row = _PendingRow(
            (
                str(uuid.uuid4()),
                memory_id,
                old_memory,
                new_memory,
                event,
                created_at,
                updated_at,
                is_deleted,
                actor_id,
                role,
            )
        )
        with self._queue_lock:
            self._pending.append(row)
        # mem0's lock: its other writers (updates' batches, messages) still take turns with us.
        with self._manager._lock:
            if not row.written:
                with self._queue_lock:
                    group, self._pending = self._pending, []
                self._write(group)
        if row.error is not None:
            raise row.error

    def _write(self, group: list[_PendingRow]) -> None:
        """Under mem0's lock: every row of ``group`` in one transaction (else one by one)."""
        try:
            self._transaction([row.params for row in group])
        except Exception as exc:
            if len(group) == 1:
                group[0].error = exc
            else:
                # A row's own failure must not fail its neighbours: each gets its own try.
                for row in group:
                    try:
                        self._transaction([row.params])
                    except Exception as own:
                        row.error = own
        for row in group:
            row.written = True
            if row.error is None:
                self.rows += 1

    def _transaction(self, rows: list[tuple[Any, ...]]) -> None:
        connection: sqlite3.Connection = self._manager.connection
        try:
            connection.execute("BEGIN")
            connection.executemany(_INSERT, rows)
            connection.execute("COMMIT")
        except Exception:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            logger.error("failed to add %d mem0 history rows", len(rows))
            raise
        self.commits += 1


def install_group_commit(manager: Any) -> GroupCommittedHistory | None:
    """Route ``manager.add_history`` through a ``GroupCommittedHistory``; None if unsuitable.

    Only a mem0 ``SQLiteManager`` whose ``add_history`` has the signature this module writes
    for (mem0 2.x), with its ``connection`` and ``_lock``, is changed: any other history store
    keeps mem0's own method.
    """
    method = getattr(type(manager), "add_history", None)
    if method is None or not hasattr(manager, "_lock") or not hasattr(manager, "connection"):
        return None
    if tuple(inspect.signature(method).parameters) != _PARAMETERS:
        logger.debug("mem0's add_history changed; its history is committed row by row")
        return None
    history = GroupCommittedHistory(manager)
    manager.add_history = history.add_history
    return history
