"""Progress while something slow opens, and the third-party noise it makes held back.

Opening mem0 or powermem, or loading an embedding model, takes seconds (imports, an embedded
store, model weights), and their libraries print warnings and log lines that mean nothing to
an openmem user ("spaCy is not installed", "payload indexes have no effect"). Inside
``opening(...)``:

- a status line shows what is opening and for how long: a spinner on a terminal, removed when
  done; one line when it ends, if it took a while or held anything back;
- the named libraries' log records and warnings are held back: each is logged in full on the
  ``openmem.opening`` logger at DEBUG, and the end line counts them.

``OPENMEM_PROGRESS`` chooses the display: ``auto`` (default: on a terminal only), ``always``
(plain lines on stderr, also when it is not a terminal: logs, CI) or ``never``. Start and end
are always logged on ``openmem.opening`` at INFO. Nothing is shown for what opens within
``SHOW_AFTER_S``.

    with opening("mem0", third_party=("mem0", "qdrant_client")) as status:
        status.step("importing mem0")
        ...
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from openmem.errors import ConfigurationError

__all__ = ["PROGRESS_ENV", "SHOW_AFTER_S", "Opening", "opening", "progress_mode"]

PROGRESS_ENV = "OPENMEM_PROGRESS"
_MODES = ("auto", "always", "never")
SHOW_AFTER_S = 0.3
"""Openings shorter than this show nothing (a shared model already loaded, say)."""
_SUMMARY_AFTER_S = 1.0
"""The end line is printed when opening took at least this long (or held something back)."""

log = logging.getLogger("openmem.opening")


@dataclass
class Opening:
    """One thing being opened: what, since when, its current step, what it held back."""

    what: str
    third_party: tuple[str, ...]
    started: float = field(default_factory=time.monotonic)
    current_step: str = ""
    held_back: list[tuple[str, str]] = field(default_factory=list)
    """(library, message) of each log record or warning held back."""

    def step(self, text: str) -> None:
        """Say what is happening now (shown after the name on the status line)."""
        self.current_step = text
        log.debug("%s: %s", self.what, text)

    def elapsed(self) -> float:
        """Seconds since opening began."""
        return time.monotonic() - self.started

    def headline(self) -> str:
        """What is opening and its current step."""
        step = f" · {self.current_step}" if self.current_step else ""
        return f"opening {self.what}{step}"

    def status(self) -> str:
        """The status line's text: the headline and the time so far."""
        return f"{self.headline()} ({self.elapsed():.1f} s)"

    def summary(self) -> str:
        """The end line's text."""
        text = f"{self.what} ready in {self.elapsed():.1f} s"
        if self.held_back:
            libraries = sorted({library for library, _ in self.held_back})
            text += (
                f"; held back {len(self.held_back)} messages from {', '.join(libraries)} "
                "(logger 'openmem.opening' at DEBUG shows them)"
            )
        return text


def progress_mode() -> str:
    """``OPENMEM_PROGRESS``: auto, always or never; anything else is a ``ConfigurationError``."""
    mode = os.environ.get(PROGRESS_ENV, "auto").strip().lower() or "auto"
    if mode not in _MODES:
        raise ConfigurationError(f"{PROGRESS_ENV}={mode!r} is not one of {', '.join(_MODES)}")
    return mode


def _stderr() -> TextIO:
    return sys.stderr


class _Board:
    """The process's one display of everything opening now, and the noise capture."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._open: list[Opening] = []
        self._shown = False
        self._live: Any = None
        self._timer: threading.Timer | None = None
        self._saved_loggers: dict[str, tuple[bool, list[logging.Handler], int]] = {}
        self._saved_showwarning: Any = None
        self._package_dirs: dict[str, list[Path]] = {}
        self._handler = _HoldBack(self)

    # -- entering and leaving ----------------------------------------------------------

    def enter(self, item: Opening, mode: str) -> None:
        with self._lock:
            self._open.append(item)
            for library in item.third_party:
                self._hold_logger(library)
            if self._saved_showwarning is None:
                self._saved_showwarning = warnings.showwarning
                warnings.showwarning = self._showwarning
            if mode != "never" and self._timer is None and not self._shown:
                self._timer = threading.Timer(SHOW_AFTER_S, self._show, args=(mode,))
                self._timer.daemon = True
                self._timer.start()

    def leave(self, item: Opening) -> None:
        live = None
        with self._lock:
            self._open.remove(item)
            for library in item.third_party:
                self._release_logger(library)
            if self._shown and (item.elapsed() >= _SUMMARY_AFTER_S or item.held_back):
                self._print(f"openmem: {item.summary()}")
            if self._open:
                return
            if warnings.showwarning == self._showwarning:
                warnings.showwarning = self._saved_showwarning
            self._saved_showwarning = None
            self._package_dirs.clear()  # found again next time: installs can change meanwhile
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            live, self._live = self._live, None
            self._shown = False
        if live is not None:
            # Outside the lock: stopping joins the refresh thread, which may be drawing.
            live.stop()

    def _show(self, mode: str) -> None:
        with self._lock:
            self._timer = None
            if not self._open or self._shown:
                return
            self._shown = True
            stream = _stderr()
            if mode == "auto" and not stream.isatty():
                self._shown = False  # logged only: no terminal to draw on
                return
            if stream.isatty():
                from rich.console import Console
                from rich.live import Live

                console = Console(file=stream)
                self._live = Live(
                    _StatusLine(self),
                    console=console,
                    transient=True,
                    refresh_per_second=8,
                    redirect_stdout=False,
                    redirect_stderr=False,
                )
                self._live.start()
            else:
                for item in self._open:
                    self._print(f"openmem: {item.headline()}...")

    def _print(self, line: str) -> None:
        if self._live is not None:
            self._live.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=_stderr(), flush=True)

    def status(self) -> str:
        # No lock: the refresh thread draws while holding rich's lock, and a thread holding
        # ours may be printing through rich; a copy of the list is enough to read.
        return "\n".join(item.status() for item in list(self._open))

    # -- holding back third-party noise ------------------------------------------------

    def _hold_logger(self, library: str) -> None:
        logger = logging.getLogger(library)
        saved = self._saved_loggers.get(library)
        if saved is not None:
            self._saved_loggers[library] = (saved[0], saved[1], saved[2] + 1)
            return
        self._saved_loggers[library] = (logger.propagate, list(logger.handlers), 1)
        logger.propagate = False
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.addHandler(self._handler)

    def _release_logger(self, library: str) -> None:
        propagate, handlers, holders = self._saved_loggers[library]
        if holders > 1:
            self._saved_loggers[library] = (propagate, handlers, holders - 1)
            return
        del self._saved_loggers[library]
        logger = logging.getLogger(library)
        logger.removeHandler(self._handler)
        for handler in handlers:
            logger.addHandler(handler)
        logger.propagate = propagate

    def hold(self, library: str, message: str) -> bool:
        """Hand a held-back message to the innermost opening that names ``library``."""
        with self._lock:
            for item in reversed(self._open):
                if library in item.third_party:
                    item.held_back.append((library, message))
                    log.debug("held back from %s while opening %s: %s", library, item.what, message)
                    return True
            return False

    def _library_of(self, filename: str) -> str | None:
        path = Path(filename).resolve()
        with self._lock:
            libraries = {library for item in self._open for library in item.third_party}
        for library in libraries:
            if library not in self._package_dirs:
                self._package_dirs[library] = _package_dirs(library)
            if any(folder in path.parents for folder in self._package_dirs[library]):
                return library
        return None

    def _showwarning(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        library = self._library_of(filename)
        text = f"{category.__name__}: {message} ({Path(filename).name}:{lineno})"
        if library is not None and self.hold(library, text):
            return
        original = self._saved_showwarning or warnings.showwarning
        original(message, category, filename, lineno, file, line)


class _HoldBack(logging.Handler):
    """The handler put on a third-party library's logger while something opens."""

    def __init__(self, board: _Board) -> None:
        super().__init__()
        self._board = board

    def emit(self, record: logging.LogRecord) -> None:
        library = record.name.split(".")[0]
        if not self._board.hold(library, f"{record.levelname}: {record.getMessage()}"):
            logging.getLogger().handle(record)  # nobody holds it any more: let it through


class _StatusLine:
    """What the terminal shows while something opens: a spinner and every opening's status."""

    def __init__(self, board: _Board) -> None:
        from rich.spinner import Spinner

        self._board = board
        self._spinner = Spinner("dots")

    def __rich__(self) -> Any:
        self._spinner.update(text=self._board.status())
        return self._spinner


def _package_dirs(library: str) -> list[Path]:
    """Where a library's files are, without importing it (none if it is not installed)."""
    try:
        spec = importlib.util.find_spec(library)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [Path(p).resolve() for p in spec.submodule_search_locations]
    return [Path(spec.origin).resolve().parent] if spec.origin else []


_BOARD = _Board()


@contextmanager
def opening(what: str, *, third_party: Sequence[str] = ()) -> Iterator[Opening]:
    """Show that ``what`` is opening and hold back ``third_party`` libraries' noise meanwhile.

    ``third_party`` names top-level packages (``"mem0"``, ``"qdrant_client"``): their loggers'
    records and the warnings raised from their files are held back (see the module docstring).
    Safe from any thread and when nested; raises ``ConfigurationError`` for a bad
    ``OPENMEM_PROGRESS``.
    """
    mode = progress_mode()
    item = Opening(what, tuple(third_party))
    log.info("opening %s", what)
    _BOARD.enter(item, mode)
    try:
        yield item
    finally:
        _BOARD.leave(item)
        log.info("%s", item.summary())
