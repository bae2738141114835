"""`openmem serve` in a process of its own, for tests that measure the client side.

A server on a thread of the test process shares its GIL and its file descriptors: a client
cancellation then waits on the server's thread, and a pool connection the server opens looks
like a descriptor the client leaked. Timing and leak checks of a client therefore talk to a
server started here, exactly as an operator starts it (``python -m openmem.cli serve``).
``serving`` runs any such server process (the reference ``omp-server`` too) until healthy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from .conftest import free_port

__all__ = ["openmem_serve", "serving"]

START_TIMEOUT = 60.0


@contextmanager
def openmem_serve(
    provider: str,
    data_dir: Path,
    *,
    options: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = ("--no-auth",),
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Run ``openmem serve --provider PROVIDER`` on a free loopback port; yields its URL.

    ``data_dir`` becomes ``OPENMEM_DATA_DIR`` (never the user's), ``options`` the ``-o``
    provider options. The server is stopped (terminated, then killed) on exit.
    """
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "openmem.cli",
        "serve",
        "--provider",
        provider,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        *extra_args,
    ]
    for name, value in (options or {}).items():
        command += ["-o", f"{name}={value}"]
    environment = {**os.environ, "OPENMEM_DATA_DIR": str(data_dir), **(env or {})}
    with serving(command, port, name="openmem serve", env=environment) as url:
        yield url


@contextmanager
def serving(
    command: Sequence[str],
    port: int,
    *,
    name: str,
    env: Mapping[str, str] | None = None,
    stdout: int | None = None,
    start_timeout: float = START_TIMEOUT,
) -> Iterator[str]:
    """Run ``command``, a server on ``port`` of 127.0.0.1, until it is healthy; yields its URL.

    Healthy is ``GET /healthz`` answering 200 within ``start_timeout`` seconds; a server
    that exits or stays silent is a ``RuntimeError`` naming it (``name``). On exit the
    process is terminated, then killed if it does not stop.
    """
    process = subprocess.Popen(list(command), env=env, stdout=stdout)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer within {start_timeout:g} s")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
