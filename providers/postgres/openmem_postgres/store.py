"""``OpenStore``: what an open ``PostgresProvider`` works with, handed to the verb modules.

The provider's lifecycle (``open``/``close``) builds and tears it down; ``writes`` and
``reads`` take it as their first argument, so each verb module sees one explicit object
instead of reaching into the provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from openmem.embedders import Embedder
from openmem.errors import NotFoundError
from openmem_postgres.embedding import embed_checked
from openmem_postgres.group_commit import AddGroups
from openmem_postgres.ids import ulid_text
from openmem_postgres.options import PostgresOptions
from openmem_postgres.queries import Statements
from openmem_postgres.runner import PROVIDER, PooledRunner
from openmem_postgres.search_groups import SearchGroups
from openmem_postgres.table_statistics import StatisticsRefresh

__all__ = ["OpenStore", "audit_id", "memory_id"]


def audit_id() -> str:
    """A fresh audit entry id (``aud_`` + ULID, so ids sort by time)."""
    return f"aud_{ulid_text()}"


def memory_id() -> str:
    """A fresh memory id (``mem_`` + ULID)."""
    return f"mem_{ulid_text()}"


@dataclass
class OpenStore:
    """The pool, SQL, embedder and settings of one open provider."""

    options: PostgresOptions
    runner: PooledRunner
    statements: Statements
    embedder: Embedder
    add_groups: AddGroups
    """Concurrent adds beyond a few in flight, written together (see ``group_commit``)."""
    search_groups: SearchGroups
    """Concurrent semantic searches beyond a few in flight, answered together
    (see ``search_groups``)."""
    statistics: StatisticsRefresh
    """The memories table analysed as this process's adds quadruple it (``table_statistics``)."""
    foreign_models: list[str] = field(default_factory=list)
    """Embedding models of stored rows other than ``embedder.model`` (found at open)."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors of ``texts``, checked for count and dimension."""
        return await embed_checked(self.embedder, texts)

    def grew(self, rows: int) -> None:
        """``rows`` memories were added (``StatisticsRefresh.added``)."""
        self.statistics.added(rows)

    def not_found(self, memory_id: str) -> NotFoundError:
        """The error of a by-id verb whose id is unknown or another user's (no existence leak)."""
        return NotFoundError(f"no memory {memory_id!r} for this user", provider=PROVIDER)
