"""The settings of the Postgres provider: connection, pool, timeouts, index and embedder."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal, Self
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from openmem.embedders import EmbedderOptions
from openmem.models import DEFAULT_MAX_CONTENT_LENGTH, SearchMode

__all__ = ["PostgresOptions"]

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresOptions(EmbedderOptions):
    """Options of ``PostgresProvider``; every one can come from ``OPENMEM_<NAME>``.

    With neither ``url`` nor ``dsn``, the provider starts (or reuses) an embedded PostgreSQL
    with pgvector in ``data_dir`` (default: the user data dir, ``OPENMEM_DATA_DIR`` overrides).
    """

    url: SecretStr | None = None
    """``postgresql://user:password@host:5432/db``; a secret because it may hold a password."""
    dsn: SecretStr | None = None
    """Alias of ``url`` (give one of the two)."""
    data_dir: Path | None = None
    """Where the embedded server keeps its data (``<data_dir>/postgres``)."""
    db_schema: str = "openmem"
    """The PostgreSQL schema holding the tables (``memories``, ``audit``, ``migrations``)."""

    pool_min_size: int = Field(default=1, ge=0, le=1000)
    pool_max_size: int | None = Field(default=None, ge=1, le=1000)
    """Connections at most. Default: 10 for a ``url``; for the embedded server, which shares
    this machine's cores with the application, one per core: every busy backend beyond that
    competes with the event loop for CPU (on 2 cores, c=32 adds: loop lag p99 1.7-2.1 ms
    with 2 connections, 1.7-3.2 ms with 4, 9.8 ms with 10)."""
    acquire_timeout: float = Field(default=10.0, gt=0)
    """Seconds to wait for a pooled connection before ``ProviderSaturatedError``."""
    command_timeout: float = Field(default=30.0, gt=0)
    """Client-side bound of one statement, in seconds."""
    statement_timeout: float = Field(default=30.0, gt=0)
    """Server-side bound of one statement (``statement_timeout``), the cancellation backstop."""
    release_timeout: float = Field(default=10.0, gt=0)
    """Seconds a background release may take before the connection is terminated."""
    cancel_grace: float = Field(default=0.05, ge=0)
    """Seconds a cancelled call's statement may run on (its result discarded) before it is
    cancelled on the server. The caller sees ``CancelledError`` at once either way; a
    statement that ends within the grace needs no cancel connection, which the server forks
    a process for (on 2 cores: cancel p99 1.8 ms with 0, 0.3 ms with 0.05). 0 cancels every
    statement at once."""
    connect_timeout: float = Field(default=30.0, gt=0)

    vector_index: Literal["vector", "halfvec"] = "vector"
    """HNSW index precision; ``halfvec`` halves index memory (the table keeps float4)."""
    hnsw_m: int = Field(default=16, ge=2, le=100)
    hnsw_ef_construction: int = Field(default=64, ge=4, le=1000)
    hnsw_ef_search: int = Field(default=400, ge=1, le=1000)
    """Candidates an HNSW search keeps (pgvector's default is 40). With a user holding a
    tenth of 11k rows: 100 gave recall@10 0.94, 200 gave 0.96; at 400 the planner, seeing
    the dearer index scan, answers that user exactly and faster (benchmarks/postgres_scale.py;
    recall through the index at 400: 0.99)."""
    random_page_cost: float | None = Field(default=1.1, gt=0, le=1000)
    """The planner's cost of reading a page out of order, on this provider's connections
    (None: the server's own). The server's default, 4.0, prices a disk seek; the graph walk of
    an HNSW index is costed by the index pages it may read, so with every row in memory or on
    an SSD it was priced 3-4x too high: a store of one user with 10,000 memories at 384
    dimensions (the default embedder's) was searched by reading and sorting every row, 15-25
    ms, instead of walking the graph, 5-7 ms (benchmarks/results/profile.md). 1.1 is the
    usual setting for SSDs."""
    exact_search_max_rows: int = Field(default=1000, ge=0, le=1_000_000)
    """A user owning at most this many memories is searched exactly (every one of its rows
    compared, through the B-tree on the user), a larger one through the HNSW index. The
    bound decides which rows enter the HNSW graph (migration 2): only a large user's, so a
    small user's add pays no index insert; ``0`` puts every row in the graph. A search tells
    the two apart from the user's newest row (in the graph: large) and picks its branch
    itself, so one generic plan serves every user and searches are not planned one by one."""
    iterative_scan: Literal["relaxed_order", "strict_order"] = "relaxed_order"
    """pgvector iterative index scans, so a user filter never empties an ANN result."""
    text_search_config: Literal["english", "simple"] = "english"
    """Text search configuration of the keyword index (fixed when the schema is created)."""

    default_search_mode: SearchMode | None = None
    """The mode of a search that names none, and of ``context``. Unset: ``semantic`` with a
    semantic embedder, ``hybrid`` with ``hashing``. Measured on the built-in set
    (benchmarks/recall_quality.py): with the default MiniLM, semantic beats hybrid (keyword
    ranks pull up near-miss memories that share the question's words); with hashing, hybrid
    edges out semantic."""
    max_content_length: int = Field(default=DEFAULT_MAX_CONTENT_LENGTH, ge=1, le=1_000_000)
    max_batch_size: int = Field(default=100, ge=1, le=10_000)
    add_statements_in_flight: int | None = Field(default=None, ge=1, le=1000)
    """Add statements in flight at once; adds arriving beyond them wait and are written
    together by one multi-row statement (group commit: one round trip, commit and WAL flush
    for the group, each row still with its audit row). A lone add never waits. Default:
    ``statements_in_flight``."""
    search_statements_in_flight: int | None = Field(default=None, ge=1, le=1000)
    """Semantic search statements in flight at once; searches arriving beyond them wait and
    are answered together by one statement (``search_groups``: each with its own exact scan
    of its own user's rows and its own audit row). A lone search never waits. Default:
    ``statements_in_flight``."""
    audit_reads: bool = True
    """Write an audit row for reads (get, list, search, context) too, not only writes."""
    durable_read_audit: bool = False
    """Wait for the WAL flush of a read's audit row (an fsync per read). By default a read's
    audit row is committed asynchronously: a crash of the machine may lose the last fraction
    of a second of read audit rows, never a write or its audit row."""

    ingest_workers: int = Field(default=1, ge=0, le=64)
    """Workers draining the queue of ``add(..., async_mode=True)`` inside this process (0:
    none here; ``openmem worker`` processes drain it). See ``openmem_postgres.ingest_worker``."""
    ingest_max_attempts: int = Field(default=5, ge=1, le=100)
    """Attempts of a queued add before its event is ``FAILED`` (dead letter)."""
    ingest_lease: float = Field(default=30.0, gt=0, le=3600)
    """Seconds a worker holds a claimed job; a job whose worker died is claimed again after."""
    ingest_poll_interval: float = Field(default=1.0, gt=0, le=60)
    """Seconds between polls of an idle worker when no ``NOTIFY`` wakes it first."""
    ingest_retry_base: float = Field(default=0.5, gt=0, le=600)
    """First retry delay of a failed job, in seconds; doubled each attempt, with jitter."""

    webhook_allow_private: bool = False
    """Allow webhook URLs resolving to loopback, link-local or private addresses (SSRF guard
    off: development, receivers inside the operator's network)."""
    webhook_max_attempts: int = Field(default=12, ge=1, le=100)
    """Attempts of a webhook delivery before it is ``FAILED`` in its delivery log."""
    webhook_retry_base: float = Field(default=1.0, gt=0, le=3600)
    """First retry delay of a webhook delivery, in seconds; doubled each attempt (capped at
    an hour), with jitter."""

    @field_validator("db_schema")
    @classmethod
    def _schema_name(cls, value: str) -> str:
        if not _SCHEMA_NAME.fullmatch(value):
            raise ValueError("db_schema must be a lowercase SQL identifier")
        return value

    @model_validator(mode="after")
    def _one_url(self) -> Self:
        if self.url is not None and self.dsn is not None:
            raise ValueError("give url or dsn, not both")
        if self.pool_max_size is not None and self.pool_min_size > self.pool_max_size:
            raise ValueError("pool_min_size must not exceed pool_max_size")
        return self

    def statements_in_flight(self, url: str) -> tuple[int, int]:
        """(add, search) statements in flight: as configured, else a default from where the
        database runs.

        On this machine (a Unix socket or a loopback address, as the embedded server), its
        busy backends take the same cores as the event loop: one statement per two cores
        (at least one) leaves the loop its core. Measured on 2 cores, c=32, side by side
        (benchmarks/results/profile.md): with 1 in flight instead of 2, loop lag p99 1.3 ms
        instead of 3.1-3.3 during adds and 1.2-1.9 instead of 5.1-5.6 during searches, at the
        same or higher throughput. A server elsewhere does not compete for these cores: 2.
        """
        default = max(1, (os.cpu_count() or 1) // 2) if _on_this_machine(url) else 2
        return (
            self.add_statements_in_flight or default,
            self.search_statements_in_flight or default,
        )

    def pool_size(self, *, embedded: bool) -> tuple[int, int]:
        """(min, max) connections for a server given by URL or the embedded one."""
        default = max(2, os.cpu_count() or 1) if embedded else 10
        maximum = self.pool_max_size or default
        return min(self.pool_min_size, maximum), maximum

    def connection_url(self) -> str | None:
        """The configured DSN, or None for the embedded server."""
        secret = self.url or self.dsn
        return secret.get_secret_value() if secret is not None else None

    @property
    def search_mode(self) -> SearchMode:
        """``default_search_mode``, or the measured best for the embedder when unset."""
        if self.default_search_mode is not None:
            return self.default_search_mode
        return "hybrid" if self.embedder == "hashing" else "semantic"


def _on_this_machine(url: str) -> bool:
    """Whether ``url`` reaches a server on this machine (Unix socket or loopback host)."""
    parts = urlsplit(url)
    hosts = [h for value in parse_qs(parts.query).get("host", []) for h in value.split(",")]
    if parts.hostname:
        hosts.append(parts.hostname)
    return not hosts or all(h.startswith("/") or h in _LOOPBACK for h in hosts)


_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
