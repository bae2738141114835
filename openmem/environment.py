"""The ``OPENMEM_*`` environment: where it comes from and which names in it are ours.

``AsyncMemory()``, ``AsyncMemory.from_config()`` and ``AsyncMemory.from_env()`` all read the
same environment: the process's variables over the ``OPENMEM_*`` entries of ``./.env``.
A variable that names no option of any installed provider, no memory setting and none of the
names below is an error with a "did you mean": a misspelled ``OPENMEM_PROVIDR`` must not
silently fall back to the default backend.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from openmem.errors import ConfigurationError

__all__ = [
    "DATA_DIR_ENV",
    "ENV_PREFIX",
    "RESERVED_PREFIXES",
    "RESERVED_VARIABLES",
    "check_variable_names",
    "data_root",
    "process_environment",
    "read_dotenv",
]

ENV_PREFIX = "OPENMEM_"
DATA_DIR_ENV = "OPENMEM_DATA_DIR"
"""The root under which every provider and the server keep their own folder."""

RESERVED_VARIABLES = frozenset(
    {
        DATA_DIR_ENV,
        "OPENMEM_REQUIRE_PG",  # the test suite: PostgreSQL tests must run
        "OPENMEM_TEST_PG_URL",  # the test suite: an existing PostgreSQL to test against
        "OPENMEM_BENCH_PG_URL",  # benchmarks: an existing PostgreSQL to measure against
        "OPENMEM_LOG_FORMAT",  # openmem serve: text or json logs
        "OPENMEM_PROGRESS",  # auto, always or never: the status line while a backend opens
        "OPENMEM_MODEL_CACHE",  # the embedders: where model exports and fetched models live
        "OPENMEM_MODEL_URL",  # the embedders: a mirror of the default model's files
    }
)
"""Variables of openmem's own tools that are not ``AsyncMemory`` options."""

RESERVED_PREFIXES = ("OPENMEM_SERVER_", "OPENMEM_OTEL_", "OPENMEM_MCP_")
"""Families read elsewhere (the server's settings, tracing, `openmem mcp`)."""


def data_root() -> Path:
    """``$OPENMEM_DATA_DIR``, else the platform's user data folder for openmem.

    A root, never one provider's folder: postgres keeps ``<root>/postgres``, mem0
    ``<root>/mem0``, powermem ``<root>/powermem``, the server ``<root>/server``. A provider's
    ``data_dir`` option is the same kind of root.
    """
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return platformdirs.user_data_path("openmem", appauthor=False)


def read_dotenv(path: str | os.PathLike[str] = ".env") -> dict[str, str]:
    """The ``OPENMEM_*`` entries of a ``.env`` file, or nothing when there is none."""
    if not Path(path).is_file():
        return {}
    from dotenv import dotenv_values  # only paid for when there is a file

    return {k: v for k, v in dotenv_values(path).items() if k.startswith(ENV_PREFIX) and v}


def process_environment(dotenv: str | os.PathLike[str] | None = ".env") -> dict[str, str]:
    """The process environment over the ``.env`` file's ``OPENMEM_*`` entries."""
    from_file = read_dotenv(dotenv) if dotenv is not None else {}
    return {**from_file, **os.environ}


def check_variable_names(env: Mapping[str, str], known_options: Iterable[str]) -> None:
    """Refuse ``OPENMEM_*`` variables that are no known option, suggesting the closest name."""
    known = {ENV_PREFIX + option.upper() for option in known_options} | RESERVED_VARIABLES
    unknown = sorted(
        name
        for name in env
        if name.startswith(ENV_PREFIX)
        and name not in known
        and not name.startswith(RESERVED_PREFIXES)
    )
    if not unknown:
        return
    described = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
        described.append(f"{name} (did you mean {close[0]}?)" if close else name)
    raise ConfigurationError(
        f"unknown environment variable {', '.join(described)}: no installed provider has "
        "such an option. Fix or unset it (from the shell or ./.env); the option names are "
        "listed by `openmem providers --options`"
    )
