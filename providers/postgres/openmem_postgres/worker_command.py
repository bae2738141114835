"""``openmem worker``: a process that only drains the queue of async adds and sends webhooks.

Run as many as the load needs, on any machines that reach the database: they share the
queue through ``FOR UPDATE SKIP LOCKED`` and wake on ``NOTIFY``. ``SIGTERM`` or ``SIGINT``
stops a worker cleanly: an interrupted job is handed back for another worker at once.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import click

from openmem.config import load_config_file, resolve_config
from openmem.errors import OMPError
from openmem_postgres.provider import PostgresProvider

__all__ = ["worker"]


@click.command()
@click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False), help="TOML file.")
@click.option("--url", help="PostgreSQL URL (OPENMEM_URL); default: the embedded server.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Data dir of the embedded server (OPENMEM_DATA_DIR).",
)
@click.option(
    "--workers",
    "-w",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Jobs run at once by this process.",
)
@click.option("--option", "-o", "options", multiple=True, help="key=value provider option.")
def worker(
    config_path: str | None,
    url: str | None,
    data_dir: Path | None,
    workers: int,
    options: tuple[str, ...],
) -> None:
    """Drain the queue of async adds and deliver webhooks (postgres provider)."""
    from openmem.cli import parse_options

    overrides = {
        **parse_options(options),
        "provider": "postgres",
        "url": url,
        "data_dir": data_dir,
        "ingest_workers": workers,
    }
    file = load_config_file(config_path) if config_path else None
    resolved = resolve_config(kwargs=overrides, file=file, env=os.environ)
    provider = resolved.build_provider()
    if not isinstance(provider, PostgresProvider):
        raise click.UsageError("openmem worker works on the postgres provider only")
    try:
        asyncio.run(_serve(provider, workers))
    except OMPError as exc:
        raise click.ClickException(f"{exc.error_code}: {exc.message}") from exc


async def _serve(provider: PostgresProvider, workers: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await provider.open()
    try:
        click.echo(f"openmem worker: {workers} workers draining the queue", err=True)
        await stop.wait()
    finally:
        await provider.close()
        click.echo("openmem worker: stopped", err=True)
