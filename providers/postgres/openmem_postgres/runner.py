"""Running statements on pooled connections so that cancellation never makes the caller wait.

``PooledRunner.run(op)`` acquires a connection and runs ``op(conn)`` in a task of its own,
which the caller awaits. When the caller is cancelled, it sees ``CancelledError`` at once
(after one loop iteration), and the statement is left to finish for up to ``cancel_grace``
seconds, its result discarded; one still running then is cancelled on the server (asyncpg
sends a CancelRequest on a new connection). A background task owned by the runner then rolls
back any open transaction and returns the connection to the pool, or terminates it if that
fails within ``release_timeout``. ``aclose()`` waits (bounded) for the pending releases.
A statement ``owned`` by the provider (a group statement, awaited by the group's own flush
task, which only closing cancels) is awaited in that task directly, without the task and the
shield: nobody waits on it who could give up, and the hand-offs delayed the group.

Why a grace: a CancelRequest is a connection of its own, for which the server forks a
process; on two cores that fork and the cancelled backend competed with the event loop just
when the caller was to be woken (cancel p99 1.8 ms at an OS wake-up lag of 2.5 ms, in
benchmarks/postgres_cancel.py). Most statements end within a few milliseconds, so they now
end on their own and no cancel connection is made: cancel p99 0.27-0.32 ms in the same run
(benchmarks/results/profile.md). A write so left to finish lands whole, with its audit
row, as any cancelled write may; a retry with the same idempotency key returns it.

A call that succeeds with no transaction open hands its connection straight to the next
call (``handoff.ConnectionHandoff``) instead of releasing it through the pool; every other
path releases through the pool in the background as above, and ``wait_released`` hands the
kept connections back too, so the pool sees them all at rest.

Driver errors are mapped here, at the boundary, to the typed errors of ``openmem.errors``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Literal, TypeVar

import asyncpg
import asyncpg.exceptions as pgerr

from openmem.errors import (
    ConflictError,
    InvalidRequestError,
    OMPError,
    ProviderError,
    ProviderSaturatedError,
    ProviderUnavailableError,
)
from openmem_postgres.handoff import Connection, ConnectionHandoff

__all__ = ["Connection", "PooledRunner", "map_driver_errors"]

T = TypeVar("T")
_log = logging.getLogger("openmem_postgres")
PROVIDER = "postgres"


class PooledRunner:
    """Pool access with background release; see the module docstring."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        acquire_timeout: float,
        release_timeout: float,
        cancel_grace: float = 0.05,
    ) -> None:
        self.pool = pool
        self._acquire_timeout = acquire_timeout
        self._release_timeout = release_timeout
        self._cancel_grace = cancel_grace
        self._releases: set[asyncio.Task[None]] = set()
        self._handoff = ConnectionHandoff(pool, acquire_timeout=acquire_timeout)

    @property
    def pending_releases(self) -> int:
        """Connections whose release is still under way (0 when the pool is at rest)."""
        return len(self._releases)

    async def run(self, op: Callable[[Connection], Awaitable[T]], *, owned: bool = False) -> T:
        """``op`` on a pooled connection, with driver errors mapped to openmem errors.

        ``owned``: the awaiting task is the provider's own (a group statement's flush, which
        only closing cancels), never a caller that may give up, so ``op`` is awaited in it
        directly. Through a task of its own and a shield, a group's statement was sent one
        loop iteration late and its result reached the group three iterations late, each
        iteration running resumed callers first: the database sat idle meanwhile
        (benchmarks/results/profile.md).
        """
        with map_driver_errors():
            conn = await self._acquire()
            work = op(conn) if owned else asyncio.ensure_future(op(conn))
            try:
                # A caller's is shielded: cancelling the caller does not cancel the statement
                # (see above). An owned one is awaited as it is.
                result = await (work if owned else asyncio.shield(work))
            except asyncio.CancelledError:
                if isinstance(work, asyncio.Future) and not work.done():
                    self._finish_later(work, conn)
                    raise
                self._release_later(conn)
                raise
            except BaseException as exc:
                if _failed_client_side(exc):
                    # The driver gave up mid-protocol (an argument it could not encode, a
                    # type error): discard the connection rather than prove it clean, so no
                    # later request of any tenant meets its state.
                    _log.info("discarding a connection after a client-side error: %r", exc)
                    conn.terminate()
                # Cancelled or failed: the connection may be mid-cancel; never wait for it.
                self._release_later(conn)
                raise
            state = _state(conn)
            if state == "clean":
                self._handoff.give_back(conn)
            elif state == "dirty":
                self._release_later(conn)  # the pool rolls it back or replaces it
            else:
                self._handoff.slot_freed()
            return result

    async def _acquire(self) -> Connection:
        while True:
            try:
                conn = await self._handoff.acquire()
            except TimeoutError as exc:
                raise ProviderSaturatedError(
                    f"no database connection free within {self._acquire_timeout:g} s",
                    provider=PROVIDER,
                ) from exc
            state = _state(conn)
            if state == "clean":
                return conn
            # Ended while it was kept (by the server or the network): the pool replaces it.
            if state == "dirty":
                self._release_later(conn)
            else:
                self._handoff.slot_freed()

    async def fetch(self, sql: str, *args: Any, owned: bool = False) -> list[asyncpg.Record]:
        """Every row of ``sql`` (``Connection.fetch`` through ``run``; ``owned`` as there)."""

        async def op(conn: Connection) -> list[asyncpg.Record]:
            return await conn.fetch(sql, *args)

        return await self.run(op, owned=owned)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        """The first row of ``sql``, or ``None`` (``Connection.fetchrow`` through ``run``)."""

        async def op(conn: Connection) -> asyncpg.Record | None:
            return await conn.fetchrow(sql, *args)

        return await self.run(op)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        """The first value of the first row of ``sql`` (``Connection.fetchval`` via ``run``)."""

        async def op(conn: Connection) -> Any:
            return await conn.fetchval(sql, *args)

        return await self.run(op)

    def _finish_later(self, work: asyncio.Future[Any], conn: Connection) -> None:
        """Give the statement of a cancelled call ``cancel_grace`` to end, then release."""
        task = asyncio.get_running_loop().create_task(self._finish(work, conn))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _finish(self, work: asyncio.Future[Any], conn: Connection) -> None:
        _ended, running = await asyncio.wait({work}, timeout=self._cancel_grace)
        if running:
            work.cancel()  # asyncpg asks the server to cancel the statement
            await asyncio.wait({work})
        failure = None if work.cancelled() else work.exception()
        if failure is not None and _failed_client_side(failure):
            conn.terminate()  # as in ``run``: never prove a confused connection clean
        await self._release(conn)

    def _release_later(self, conn: Connection) -> None:
        task = asyncio.get_running_loop().create_task(self._release(conn))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _release(self, conn: Connection) -> None:
        try:
            await self.pool.release(conn, timeout=self._release_timeout)
        except BaseException as exc:  # the pool terminated it already; only report
            _log.warning("discarded a database connection after a failed release: %r", exc)
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
        finally:
            self._handoff.slot_freed()

    async def wait_released(self, grace: float) -> None:
        """Hand the kept connections back to the pool and wait until every release has
        finished, at most ``grace`` seconds: then the pool holds every idle connection."""
        for conn in self._handoff.take_kept():
            self._release_later(conn)
        pending = list(self._releases)
        if pending:
            await asyncio.wait(pending, timeout=grace)

    async def aclose(self, grace: float) -> None:
        """Finish pending releases, then close the pool; terminate it if that overruns."""
        await self.wait_released(grace)
        try:
            await asyncio.wait_for(self.pool.close(), grace)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            self.pool.terminate()


def _state(conn: Connection) -> Literal["clean", "dirty", "gone"]:
    """Whether ``conn`` can serve the next call as it is, needs the pool's release (closed,
    or a transaction left open), or is gone: asyncpg detaches a connection that closes
    while it is out and puts its slot back in the pool itself."""
    try:
        if conn.is_closed() or conn.is_in_transaction():
            return "dirty"
    except asyncpg.InterfaceError:
        return "gone"
    return "clean"


def _failed_client_side(exc: BaseException) -> bool:
    """Whether ``exc`` came from the driver itself rather than from the server's answer."""
    if isinstance(exc, asyncpg.PostgresError):
        # asyncpg raises its argument-encoding failures as a DataError of its own making;
        # every error the server sends carries a severity.
        return getattr(exc, "severity", None) is None
    return isinstance(exc, asyncpg.InterfaceError | TypeError | ValueError | UnicodeError)


@contextlib.contextmanager
def map_driver_errors() -> Iterator[None]:
    """Translate asyncpg and socket errors into openmem's typed errors (``from`` chained).

    The client's message names the kind of failure only; the driver's own text (argument
    numbers, codecs, DETAIL lines, SQL) goes to the log, and stays on ``__cause__`` for the
    server to log with the request id.
    """
    try:
        yield
    except OMPError:
        raise
    except (pgerr.CharacterNotInRepertoireError, pgerr.UntranslatableCharacterError) as exc:
        _log.info("database refused text: %s", exc)
        raise InvalidRequestError("text is not valid", provider=PROVIDER) from exc
    except pgerr.DataError as exc:
        # Also what asyncpg raises for an argument it cannot encode (client-side).
        _log.info("database refused a value: %s", exc)
        raise InvalidRequestError("a value is not valid", provider=PROVIDER) from exc
    except pgerr.UniqueViolationError as exc:
        _log.info("unique violation: %s", exc)
        raise ConflictError("conflicts with a stored memory", provider=PROVIDER) from exc
    except pgerr.QueryCanceledError as exc:
        _log.warning("statement cancelled by the server: %s", exc)
        raise ProviderUnavailableError(
            "the statement was cancelled by the server (statement_timeout?)",
            provider=PROVIDER,
        ) from exc
    except TimeoutError as exc:
        raise ProviderUnavailableError(
            "the database did not answer within command_timeout", provider=PROVIDER
        ) from exc
    except (
        pgerr.PostgresConnectionError,
        pgerr.CannotConnectNowError,
        pgerr.TooManyConnectionsError,
        pgerr.AdminShutdownError,
        asyncpg.InterfaceError,
        ConnectionError,
        OSError,
    ) as exc:
        _log.warning("database unavailable: %r", exc)
        raise ProviderUnavailableError("the database is unavailable", provider=PROVIDER) from exc
    except asyncpg.PostgresError as exc:
        _log.error("database error: %r", exc)
        raise ProviderError("database error", provider=PROVIDER) from exc
