"""Group commit of mem0's SQLite history (``openmem_mem0._history``) on mem0's real manager."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openmem_mem0._env import prepare_mem0_environment
from openmem_mem0._history import GroupCommittedHistory, install_group_commit

WAIT = 10.0  # seconds any wait below may take before the test fails instead of hanging


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[Any]:
    """mem0's own history manager, imported with its telemetry off (as the provider does)."""
    prepare_mem0_environment(tmp_path)
    from mem0.memory.storage import SQLiteManager

    db = SQLiteManager(str(tmp_path / "history.db"))
    yield db
    db.close()


def stored(manager: Any) -> list[tuple[str, str]]:
    with manager._lock:
        rows = manager.connection.execute("SELECT memory_id, event FROM history").fetchall()
    return sorted(rows)


def add_while_locked(
    manager: Any, history: GroupCommittedHistory, memory_ids: list[str]
) -> dict[str, BaseException | None]:
    """One thread per id calls ``add_history`` while mem0's lock is held, so every row is
    queued before any commit starts; then the lock is released and the threads joined."""
    outcomes: dict[str, BaseException | None] = {}

    def add(memory_id: str) -> None:
        try:
            manager.add_history(memory_id, None, f"text {memory_id}", "ADD")
        except BaseException as exc:
            outcomes[memory_id] = exc
        else:
            outcomes[memory_id] = None

    threads = [threading.Thread(target=add, args=(m,)) for m in memory_ids]
    with manager._lock:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + WAIT
        while len(history._pending) < len(memory_ids):
            assert time.monotonic() < deadline, "the rows were never queued"
            time.sleep(0.001)
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive()
    return outcomes


def test_rows_queued_together_are_written_in_one_transaction(manager: Any) -> None:
    history = install_group_commit(manager)
    assert history is not None
    ids = [f"m{i}" for i in range(6)]
    outcomes = add_while_locked(manager, history, ids)
    assert outcomes == dict.fromkeys(ids)
    assert stored(manager) == [(m, "ADD") for m in ids]
    assert (history.commits, history.rows) == (1, 6)


def test_rows_are_readable_through_mem0_once_add_history_returns(
    manager: Any, tmp_path: Path
) -> None:
    install_group_commit(manager)
    manager.add_history("m1", None, "first", "ADD", actor_id="a1", role="user")
    manager.add_history("m1", "first", "second", "UPDATE")
    # Another connection sees them: they are committed, not merely written.
    with sqlite3.connect(tmp_path / "history.db") as other:
        rows = other.execute(
            "SELECT old_memory, new_memory, event, actor_id, role FROM history ORDER BY rowid"
        ).fetchall()
    assert rows == [(None, "first", "ADD", "a1", "user"), ("first", "second", "UPDATE", None, None)]
    assert [h["event"] for h in manager.get_history("m1")] == ["ADD", "UPDATE"]


def test_a_failing_row_fails_only_its_own_caller(manager: Any) -> None:
    history = install_group_commit(manager)
    assert history is not None
    with manager._lock:
        manager.connection.execute(
            "CREATE TRIGGER refuse_bad BEFORE INSERT ON history WHEN NEW.memory_id = 'bad'"
            " BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    outcomes = add_while_locked(manager, history, ["ok1", "bad", "ok2"])
    assert isinstance(outcomes.pop("bad"), sqlite3.IntegrityError)
    assert outcomes == {"ok1": None, "ok2": None}
    assert stored(manager) == [("ok1", "ADD"), ("ok2", "ADD")]
    assert not manager.connection.in_transaction  # mem0's next writer starts clean


def test_a_history_store_of_another_shape_keeps_its_own_method() -> None:
    class OtherHistory:
        def __init__(self) -> None:
            self._lock = threading.Lock()
            self.connection: Any = None

        def add_history(self, memory_id: str, event: str) -> None:
            raise AssertionError("not called here")

    other = OtherHistory()
    assert install_group_commit(other) is None
    assert "add_history" not in vars(other)
    assert install_group_commit(object()) is None
