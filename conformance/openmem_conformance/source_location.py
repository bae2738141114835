"""Where in a provider's own source a failed check points: ``file:line`` for its author.

Two cases. When the failure came out of the provider (an exception raised or mapped in its
code, or a hang cancelled inside it), the deepest traceback frame in the provider's files is
the place, chained causes included. When the check's own assertion failed (the provider
answered, but wrongly), no provider frame is on the stack: the places are then the provider's
implementations of the verbs the check calls: first the verb the failure message names, then
the provider's own overrides before what it inherits, then the order of the check's calls.

The provider's files are the source files of its class and of its bases (a shared base such
as ``TranslatingProvider`` does much of the work), plus every file of the provider's own
package. ``openmem.provider.Provider`` itself and the core package as a whole are not the
provider's.
"""

from __future__ import annotations

import inspect
import re
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openmem
from openmem.provider import Provider

__all__ = ["failure_location"]

VERBS = (
    "add_many",
    "add",
    "get",
    "update",
    "delete",
    "list",
    "search",
    "context",
    "audit",
    "forget_user",
    "capabilities",
)
# The names checks give an ``AsyncMemory`` or provider (``model`` is the suite's reference).
_CALLED_VERB = re.compile(r"\b(?:mem|other|m|ctx|raw|provider)\.(" + "|".join(VERBS) + r")\(")
_CORE = Path(openmem.__file__).resolve().parent
_MOST_PLACES = 3


def failure_location(
    exc: BaseException, provider_class: type[Any], check: Callable[..., Any]
) -> str:
    """``file:line`` places in ``provider_class``'s source to look at for ``exc`` (or "")."""
    owns = _ownership(provider_class)
    for failure in _chain(exc):
        frames = [f for f in traceback.extract_tb(failure.__traceback__) if owns(f.filename)]
        if frames:
            frame = frames[-1]
            return f"{_shown(frame.filename)}:{frame.lineno} in {frame.name}"
    named = set(re.findall(r"\w+", str(exc)))
    depth = {cls: rank for rank, cls in enumerate(provider_class.__mro__)}
    places: list[tuple[tuple[bool, int, int], str]] = []
    for order, verb in enumerate(_verbs_called_by(check)):
        method = getattr(provider_class, verb, None)
        if method is None:
            continue
        try:
            source = inspect.getsourcefile(method)
            line = inspect.getsourcelines(method)[1]
        except (OSError, TypeError):
            continue
        if source and owns(source):
            definer = next(c for c in provider_class.__mro__ if verb in vars(c))
            # The verb the failure names first, then the author's own overrides, then call order.
            rank = (verb not in named, depth[definer], order)
            places.append((rank, f"{_shown(source)}:{line} ({verb})"))
    return ", ".join(place for _, place in sorted(places)[:_MOST_PLACES])


def _ownership(provider_class: type[Any]) -> Callable[[str], bool]:
    files: set[Path] = set()
    for cls in provider_class.__mro__:
        if cls is object or not issubclass(cls, Provider) or cls is Provider:
            continue
        try:
            source = inspect.getsourcefile(cls)
        except TypeError:  # a class built at run time
            continue
        if source:
            files.add(Path(source).resolve())
    module_file = next(iter(_class_file(provider_class)), None)
    package = module_file.parent if module_file is not None else None
    if package is not None and (package == _CORE or package == Path(__file__).parent):
        package = None  # the core (inmemory.py's folder) or the suite is not the provider's

    def owns(filename: str) -> bool:
        path = Path(filename).resolve()
        return path in files or (package is not None and package in path.parents)

    return owns


def _class_file(cls: type[Any]) -> Iterator[Path]:
    try:
        source = inspect.getsourcefile(cls)
    except TypeError:
        return
    if source:
        yield Path(source).resolve()


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what caused it or was being handled, without looping."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _verbs_called_by(check: Callable[..., Any]) -> list[str]:
    try:
        source = inspect.getsource(check)
    except (OSError, TypeError):
        return []
    return list(dict.fromkeys(_CALLED_VERB.findall(source)))


def _shown(filename: str) -> str:
    """The path relative to the working directory when it is below it (shorter to read)."""
    path = Path(filename).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
