"""Fewer round trips for mem0's pgvector store: reads in autocommit, writes in a transaction.

mem0's ``PGVector`` runs every statement in ``with pool.connection(): with conn.cursor():``
on a connection outside autocommit, so psycopg sends ``BEGIN`` before it and the pool sends
``COMMIT`` after it: three round trips for one ``SELECT``. A mem0 search sends two (the
vector query and the keyword query), so four of its six round trips only open and close
transactions around single reads, each one more wake-up and GIL hand-over for the worker
thread that waits on it.

On the adapter's own pool (its connections in autocommit, ``_oss._iterative_scan_pool``)
``install_lean_cursors`` gives a store a ``_get_cursor`` that sends a read alone (one
statement is its own snapshot either way) and wraps every write in ``conn.transaction()``,
so a write of several statements (mem0's ``update`` of a vector and its payload, its
``create_col``) stays one atomic transaction, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

__all__ = ["install_lean_cursors"]


def install_lean_cursors(store: Any, pool: Any) -> bool:
    """Give ``store`` (mem0's ``PGVector`` on ``pool``) the cursors above; False if unsuitable.

    Only a store using exactly ``pool`` (whose connections are in autocommit) through
    psycopg 3 is changed; anything else keeps mem0's own ``_get_cursor``.
    """
    if getattr(store, "connection_pool", None) is not pool or not hasattr(store, "_get_cursor"):
        return False
    if getattr(pool, "kwargs", {}).get("autocommit") is not True:
        return False
    from mem0.vector_stores import pgvector

    if getattr(pgvector, "PSYCOPG_VERSION", None) != 3:
        return False

    def get_cursor(commit: bool = False) -> AbstractContextManager[Any]:
        return _cursor(pool, commit)

    store._get_cursor = get_cursor
    return True


@contextmanager
def _cursor(pool: Any, commit: bool) -> Iterator[Any]:
    with pool.connection() as conn:
        if commit:
            # A failure rolls the whole write back, as mem0's own rollback did.
            with conn.transaction(), conn.cursor() as cur:
                yield cur
        else:
            with conn.cursor() as cur:
                yield cur
