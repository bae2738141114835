"""Opening something slow shows progress, and its libraries' noise is held back and counted.

The libraries here are stand-ins made in a temporary folder (``noisylib``): what matters is
that their log records and the warnings raised from their files never reach the user's
stderr while something opens, and that everything else still does.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import openmem.opening
from openmem.errors import ConfigurationError
from openmem.opening import PROGRESS_ENV, opening


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition``; a bounded wait, so a display that never comes fails the test."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the status never showed"
        time.sleep(0.01)


@pytest.fixture
def noisylib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """An importable package that logs and warns the way mem0 does while it opens."""
    package = tmp_path / "noisylib"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            import logging, warnings
            log = logging.getLogger("noisylib.store")

            def open_store():
                log.warning("spaCy is not installed")
                warnings.warn("payload indexes have no effect", UserWarning)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import noisylib  # type: ignore[import-not-found]

    yield noisylib
    sys.modules.pop("noisylib", None)


@pytest.fixture
def stderr(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What the status writes to (not a terminal), shown at once."""
    stream = io.StringIO()
    monkeypatch.setattr(openmem.opening, "_stderr", lambda: stream)
    monkeypatch.setattr(openmem.opening, "SHOW_AFTER_S", 0.0)
    return stream


def test_a_library_log_record_is_held_back_and_logged_at_debug(
    noisylib: object,
    stderr: io.StringIO,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    library_logger = logging.getLogger("noisylib")
    handlers_before = list(library_logger.handlers)
    caplog.set_level(logging.DEBUG, logger="openmem.opening")
    with warnings.catch_warnings(), opening("store", third_party=("noisylib",)) as status:
        warnings.simplefilter("always")
        noisylib.open_store()  # type: ignore[attr-defined]
    assert [message for _, message in status.held_back] == [
        "WARNING: spaCy is not installed",
        "UserWarning: payload indexes have no effect (__init__.py:7)",
    ]
    assert "spaCy" not in capsys.readouterr().err
    assert not [r for r in caplog.records if r.name.startswith("noisylib")]
    held = [r.getMessage() for r in caplog.records if r.name == "openmem.opening"]
    assert "held back from noisylib while opening store: WARNING: spaCy is not installed" in held
    assert held[-1].startswith("store ready in")
    assert "held back 2 messages from noisylib" in held[-1]
    # Afterwards the library logs as before.
    assert library_logger.propagate is True
    assert library_logger.handlers == handlers_before


def test_warnings_of_other_code_pass_through_while_something_opens(
    noisylib: object, stderr: io.StringIO
) -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with opening("store", third_party=("noisylib",)):
            noisylib.open_store()  # type: ignore[attr-defined]
            warnings.warn("the application's own warning", UserWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["the application's own warning"]


def test_always_prints_a_start_and_an_end_line_when_stderr_is_not_a_terminal(
    noisylib: object, stderr: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PROGRESS_ENV, "always")
    monkeypatch.setattr(openmem.opening, "_SUMMARY_AFTER_S", 0.0)
    with opening("store", third_party=("noisylib",)) as status:
        status.step("importing noisylib")
        wait_until(lambda: "opening" in stderr.getvalue())
        noisylib.open_store()  # type: ignore[attr-defined]
    start, end = stderr.getvalue().splitlines()
    assert start == "openmem: opening store · importing noisylib..."
    assert end.startswith("openmem: store ready in ")
    assert end.endswith(
        "held back 2 messages from noisylib (logger 'openmem.opening' at DEBUG shows them)"
    )


def test_auto_shows_nothing_when_stderr_is_not_a_terminal(
    noisylib: object, stderr: io.StringIO
) -> None:
    with opening("store", third_party=("noisylib",)):
        noisylib.open_store()  # type: ignore[attr-defined]
        time.sleep(0.05)  # past SHOW_AFTER_S (0 here): the display was considered
    assert stderr.getvalue() == ""


def test_auto_draws_a_status_line_on_a_terminal_and_leaves_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = Terminal()
    monkeypatch.setattr(openmem.opening, "_stderr", lambda: terminal)
    monkeypatch.setattr(openmem.opening, "SHOW_AFTER_S", 0.0)
    monkeypatch.setattr(openmem.opening, "_SUMMARY_AFTER_S", 0.0)
    board = openmem.opening._BOARD
    with opening("store") as status:
        status.step("opening its store")
        wait_until(lambda: board._live is not None)
        wait_until(lambda: "opening store · opening its store" in terminal.getvalue())
    assert board._live is None
    assert "openmem: store ready in" in terminal.getvalue()


def test_never_shows_nothing_but_still_holds_the_noise_back(
    noisylib: object,
    stderr: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(PROGRESS_ENV, "never")
    with opening("store", third_party=("noisylib",)) as status:
        noisylib.open_store()  # type: ignore[attr-defined]
        time.sleep(0.05)
    assert stderr.getvalue() == ""
    assert len(status.held_back) == 2
    assert "spaCy" not in capsys.readouterr().err


def test_a_bad_progress_setting_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROGRESS_ENV, "loud")
    with (
        pytest.raises(ConfigurationError, match="OPENMEM_PROGRESS='loud' is not one of"),
        opening("store"),
    ):
        pass


def test_openings_on_several_threads_restore_everything_when_the_last_ends(
    noisylib: object, stderr: io.StringIO
) -> None:
    original = warnings.showwarning
    started = threading.Barrier(3)

    def open_one() -> None:
        with opening("store", third_party=("noisylib", "otherlib")):
            started.wait(timeout=30)
            noisylib.open_store()  # type: ignore[attr-defined]

    threads = [threading.Thread(target=open_one) for _ in range(2)]
    for thread in threads:
        thread.start()
    started.wait(timeout=30)
    for thread in threads:
        thread.join(timeout=30)
    assert warnings.showwarning is original
    for name in ("noisylib", "otherlib"):
        assert logging.getLogger(name).propagate is True
        assert not logging.getLogger(name).handlers


def test_loading_the_default_embedding_model_says_so(tmp_path: Path) -> None:
    """The real thing, in a fresh interpreter: the ONNX model's first load (its export into an
    empty model cache, seconds) is announced. A cached load may be too quick to show."""
    code = "from openmem.embedders.onnx import OnnxEmbedder\nOnnxEmbedder().load_sync()\n"
    env = {
        **os.environ,
        PROGRESS_ENV: "always",
        "OPENMEM_DATA_DIR": str(tmp_path),
        "OPENMEM_MODEL_CACHE": str(tmp_path / "models"),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "openmem: opening the embedding model openmem/all-MiniLM-L6-v2-layers-0-4-5-int8" in (
        done.stderr
    )


async def test_a_bad_progress_setting_stops_a_thread_tier_open_as_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openmem_powermem import PowermemProvider

    monkeypatch.setenv(PROGRESS_ENV, "loud")
    provider = PowermemProvider(data_dir=str(tmp_path), embedder="hashing")
    with pytest.raises(ConfigurationError, match="OPENMEM_PROGRESS"):
        await provider.open()  # not provider_unavailable: nothing is wrong with powermem
    await provider.close()
