"""mem0 OSS (``mem0.Memory``) as a blocking backend, built offline from openmem's options.

Import this module only after ``prepare_mem0_environment``: mem0 reads its telemetry switch
and home directory at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from mem0 import Memory
from mem0.embeddings.base import EmbeddingBase

from openmem.embedders import Embedder
from openmem.translation import embed_blocking
from openmem.translation.backend import MemoryObjectBackend
from openmem_mem0._backend import RawMemory
from openmem_mem0._history import GroupCommittedHistory, install_group_commit
from openmem_mem0._options import Mem0Options
from openmem_mem0._pgvector_cursors import install_lean_cursors

__all__ = ["Mem0OSSBackend", "OpenmemEmbedding"]

logger = logging.getLogger(__name__)

_LIST_CAP = 100_000  # get_all has no cursor; one user's memories are read whole
# Never called while infer=False; mem0 builds an LLM client at construction regardless.
_DUMMY_LLM = {"provider": "openai", "config": {"api_key": "sk-openmem-unused"}}


class OpenmemEmbedding(EmbeddingBase):  # type: ignore[misc]
    """An openmem ``Embedder`` behind mem0's synchronous embedding interface.

    Runs on the provider's worker threads: an embedder with ``embed_sync`` (hashing) is
    called directly; any other is run on the provider's event loop and awaited from here.
    """

    def __init__(self, embedder: Embedder, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(None)
        self._embedder = embedder
        self._loop = loop

    def embed(
        self, text: str, memory_action: Literal["add", "search", "update"] | None = None
    ) -> list[float]:
        """One vector for ``text``."""
        return self.embed_batch([text], memory_action or "add")[0]

    def embed_batch(self, texts: list[str], memory_action: str = "add") -> list[list[float]]:
        """One vector per text, in order."""
        return embed_blocking(self._embedder, self._loop, texts)


class Mem0OSSBackend(MemoryObjectBackend):
    """``mem0.Memory`` on an embedded qdrant/faiss directory or on pgvector."""

    sdk = "mem0"
    async_ingestion = False

    def __init__(
        self, options: Mem0Options, embedder: Embedder, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.options = options
        self.thread_safe = options.vector_store == "pgvector"
        self._embedder = embedder
        self._loop = loop
        self._memory: Any = None
        self._pool: Any = None
        self.history_writer: GroupCommittedHistory | None = None
        """mem0's history writes, group-committed (``_history``); None before open."""

    # -- lifecycle ---------------------------------------------------------------------

    def open(self) -> None:
        data_dir = self.options.resolved_data_dir()
        data_dir.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "vector_store": self._vector_store_config(data_dir),
            # The embedder is replaced below; this entry only satisfies mem0's factory.
            "embedder": {
                "provider": "openai",
                "config": {"api_key": "sk-openmem-unused", "embedding_dims": self._embedder.dim},
            },
            "llm": self.options.llm or _DUMMY_LLM,
            "history_db_path": str(data_dir / f"{self.options.collection}-history.db"),
        }
        memory = Memory.from_config(config)
        memory.embedding_model = OpenmemEmbedding(self._embedder, self._loop)
        # Concurrent adds otherwise queue for mem0's one-at-a-time history commit.
        self.history_writer = install_group_commit(memory.db)
        self._memory = memory
        # Create both collections now, once: mem0 creates them lazily and unlocked, and
        # concurrent first writes race on pgvector (peers.md §0, bug 3). Processes opening
        # one fresh store at once take turns (``_schema_lock``): two concurrent
        # ``CREATE ... IF NOT EXISTS`` can both miss the other's row and fail on the catalog.
        with _schema_lock(self.options.url if self._pool is not None else None):
            store = memory.vector_store
            if hasattr(store, "_ensure_collection"):
                store._ensure_collection()
            entities = memory.entity_store
            if hasattr(entities, "_ensure_collection"):
                entities._ensure_collection()
            if self._pool is not None:
                _index_users(self._pool, self.options.collection)
        if self._pool is not None:
            for each in (store, entities):
                install_lean_cursors(each, self._pool)

    def _vector_store_config(self, data_dir: Path) -> dict[str, Any]:
        common = {
            "collection_name": self.options.collection,
            "embedding_model_dims": self._embedder.dim,
        }
        if self.options.vector_store == "qdrant":
            path = data_dir / "qdrant"
            return {"provider": "qdrant", "config": {**common, "path": str(path), "on_disk": True}}
        if self.options.vector_store == "faiss":
            path = data_dir / "faiss"
            return {"provider": "faiss", "config": {**common, "path": str(path)}}
        if not self.options.url:
            raise ValueError("vector_store='pgvector' needs url=<postgresql connection string>")
        self._pool = _iterative_scan_pool(
            self.options.url, self.options.max_workers + min(self.options.max_abandoned, 4)
        )
        return {"provider": "pgvector", "config": {**common, "connection_pool": self._pool}}

    def close(self) -> None:
        memory, self._memory = self._memory, None
        if memory is not None:
            memory.close()  # the SQLite history only
            for store in (memory.vector_store, getattr(memory, "_entity_store", None)):
                client = getattr(store, "client", None)
                if client is not None and hasattr(client, "close"):
                    client.close()  # releases embedded qdrant's directory lock
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    # -- verbs -------------------------------------------------------------------------

    def get(self, memory_id: str) -> RawMemory | None:
        raw: RawMemory | None = self.memory.get(memory_id)
        return raw

    def list_all(self, user: str) -> list[RawMemory]:
        result = self.memory.get_all(filters={"user_id": user}, top_k=_LIST_CAP)
        return list(result.get("results", []))

    def find(self, user: str, key: str, value: str) -> RawMemory | None:
        result = self.memory.get_all(filters={"user_id": user, key: value}, top_k=1)
        found = result.get("results", [])
        return dict(found[0]) if found else None

    def search(self, user: str, query: str, top_k: int, threshold: float) -> list[RawMemory]:
        result = self.memory.search(
            query, top_k=top_k, filters={"user_id": user}, threshold=threshold
        )
        return list(result.get("results", []))

    def update(self, memory_id: str, content: str | None, metadata: dict[str, Any]) -> None:
        self.memory.update(memory_id, text=content, metadata=metadata)

    def delete(self, memory_id: str) -> None:
        self.memory.delete(memory_id)

    def history(self, memory_id: str) -> list[RawMemory]:
        return list(self.memory.history(memory_id))


# A session advisory lock of this adapter: schema changes of every mem0 store in one database
# take turns (they are rare, and CREATE EXTENSION is database-wide anyway).
_SCHEMA_LOCK_KEY = 0x6F6D2D6D656D30  # "om-mem0"


@contextlib.contextmanager
def _schema_lock(url: str | None) -> Iterator[Any]:
    """Hold the adapter's advisory lock on a connection of its own (``None``: no database).

    The lock is a session lock on an autocommit connection, so it spans the statements mem0
    sends on its own pooled connections; closing the connection releases it in any case.
    """
    if url is None:
        yield None
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK_KEY,))
        try:
            yield conn
        finally:
            with contextlib.suppress(psycopg.Error):  # closing the session releases it too
                conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK_KEY,))


def _index_users(pool: Any, collection: str) -> None:
    """A B-tree on the user of mem0's rows: one user's memories without walking the HNSW graph.

    mem0 filters every search by ``payload->>'user_id'`` and indexes only the vectors and the
    text. With this index (and custom plans, see ``_iterative_scan_pool``) Postgres picks, from
    its statistics, the exact per-user plan while a user's memories are few and the HNSW scan
    once they are many. Called under the schema lock.
    """
    from psycopg import sql

    with pool.connection() as conn:
        conn.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ((payload->>'user_id'))").format(
                sql.Identifier(f"{collection}_user_idx"), sql.Identifier(collection)
            )
        )


def _iterative_scan_pool(url: str, size: int) -> Any:
    """A psycopg pool whose connections filter inside HNSW scans (pgvector >= 0.8).

    Without iterative scans Postgres soon switches to an HNSW plan that filters by user
    afterwards and returns a fraction of the requested rows (issue 6; anchors.md §D).
    """
    import orjson
    import psycopg
    from psycopg.types.json import set_json_loads
    from psycopg_pool import ConnectionPool

    with _schema_lock(url) as conn:
        if conn is not None:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")

    def configure(conn: Any) -> None:
        # Plans made for the actual user: psycopg prepares a statement after five runs, and
        # Postgres then soon switches to a generic plan, which cannot see that one user's rows
        # are few; it walks the HNSW graph (iteratively: the whole of it) where the user index
        # or a scan of a few pages answers exactly (400 rows, 10 users: 1213 buffers and 1.0 ms
        # generic, 37 buffers and 0.1 ms custom). Planning costs ~0.1 ms a query.
        conn.execute("SET plan_cache_mode = force_custom_plan")
        conn.commit()  # kept if the next SET fails and rolls back
        # mem0 decodes every candidate row's JSON payload (60 per search); orjson does it
        # several times faster than the standard library.
        set_json_loads(orjson.loads, conn)
        try:
            conn.execute("SET hnsw.iterative_scan = relaxed_order")
        except psycopg.Error:
            conn.rollback()  # pgvector < 0.8: no iterative scans; pages may come back short
            logger.warning("pgvector has no hnsw.iterative_scan; upgrade to 0.8 or later")
        else:
            conn.commit()

    # Autocommit: a read is one round trip, no BEGIN/COMMIT around it; mem0's writes get
    # their transaction back from ``install_lean_cursors``.
    pool = ConnectionPool(
        conninfo=url,
        min_size=1,
        max_size=max(size, 2),
        kwargs={"autocommit": True},
        configure=configure,
        open=False,
    )
    pool.open(wait=True, timeout=30.0)
    return pool
