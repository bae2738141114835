"""``openmem reembed``: re-embed stored memories with the configured embedding model.

Search never compares vectors of two models, so after the embedder changes, a provider that
finds rows of another model refuses vector search with ``EmbeddingModelMismatchError``
until those rows are re-embedded. This command does that in batches, each batch one
statement that commits on its own, so it can be interrupted at any time: a second run picks
up the rows still of another model and never re-embeds one already done. A progress bar
(rich) shows on a terminal; elsewhere each batch prints one line. Keyword search, list and
the by-id verbs keep working meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn
from rich.progress import Progress as ProgressBar

from openmem.config import load_config_file, resolve_config
from openmem_postgres.provider import PostgresProvider
from openmem_postgres.rows import encode_vector
from openmem_postgres.runner import Connection

__all__ = ["reembed", "reembed_stored"]

Progress = Callable[[int, int], None]

# The content guard leaves a row edited meanwhile for the next batch to redo.
_REEMBED_BATCH = (
    "UPDATE {s}.memories m SET embedding = u.embedding,"
    " embedding_model = $4, version = m.version + 1"
    " FROM unnest($1::text[], $2::text[], $3::vector[], $5::text[])"
    " AS u(namespace, id, embedding, content)"
    " WHERE m.namespace = u.namespace AND m.id = u.id AND m.content = u.content"
)


async def reembed_stored(
    provider: PostgresProvider, *, batch_size: int = 256, progress: Progress | None = None
) -> int:
    """Re-embed every row of another model with the provider's embedder; returns how many.

    ``progress(done, total)`` is called after each batch. The provider must be open.
    """
    schema = provider.statements.schema
    embedder = provider.embedder
    model = embedder.model
    runner = provider.runner

    async def count(conn: Connection) -> int:
        return int(
            await conn.fetchval(
                f"SELECT count(*) FROM {schema}.memories WHERE embedding_model <> $1", model
            )
        )

    total = await runner.run(count)
    done = 0
    if progress is not None:
        progress(done, total)
    while True:

        async def batch(conn: Connection) -> list[Any]:
            return list(
                await conn.fetch(
                    f"SELECT namespace, id, content FROM {schema}.memories"
                    " WHERE embedding_model <> $1 ORDER BY namespace, id LIMIT $2",
                    model,
                    batch_size,
                )
            )

        rows = await runner.run(batch)
        if not rows:
            break
        vectors = await embedder.embed([row["content"] for row in rows])

        args = (
            [row["namespace"] for row in rows],
            [row["id"] for row in rows],
            [encode_vector(vector) for vector in vectors],
            model,
            [row["content"] for row in rows],
        )
        write = functools.partial(_write_batch, sql=_REEMBED_BATCH.format(s=schema), args=args)
        await runner.run(write)
        done += len(rows)
        if progress is not None:
            progress(min(done, total), total)
    provider.forget_foreign_models()
    return done


async def _write_batch(conn: Connection, *, sql: str, args: tuple[Any, ...]) -> None:
    await conn.execute(sql, *args)


@click.command("reembed")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    help="A TOML configuration file (the same one the application uses).",
)
@click.option("--url", envvar="OPENMEM_URL", help="PostgreSQL DSN (default: the embedded server).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Data dir of the embedded server (OPENMEM_DATA_DIR).",
)
@click.option("--embedder", help="onnx (default) | openai | local | hashing (OPENMEM_EMBEDDER).")
@click.option("--embedder-model", help="The model to re-embed with (OPENMEM_EMBEDDER_MODEL).")
@click.option("--embedder-dim", type=int, help="Vector size (OPENMEM_EMBEDDER_DIM).")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=256,
    show_default=True,
    help="Memories re-embedded per transaction.",
)
def reembed(
    config_path: str | None,
    url: str | None,
    data_dir: Path | None,
    embedder: str | None,
    embedder_model: str | None,
    embedder_dim: int | None,
    batch_size: int,
) -> None:
    """Re-embed stored memories with the configured embedding model (postgres provider)."""
    overrides = {
        "provider": "postgres",
        "url": url,
        "data_dir": data_dir,
        "embedder": embedder,
        "embedder_model": embedder_model,
        "embedder_dim": embedder_dim,
    }
    file = load_config_file(config_path) if config_path else None
    resolved = resolve_config(kwargs=overrides, file=file, env=os.environ)
    provider = resolved.build_provider()
    if not isinstance(provider, PostgresProvider):
        raise click.UsageError("reembed works on the postgres provider only")

    console = Console(stderr=True)

    async def run(report: Progress | None) -> int:
        await provider.open()
        try:
            return await reembed_stored(provider, batch_size=batch_size, progress=report)
        finally:
            await provider.close()

    if console.is_terminal:
        columns = (BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with ProgressBar("re-embedding", *columns, console=console) as bar:
            task = bar.add_task("reembed", total=None)
            count = asyncio.run(
                run(lambda done, total: bar.update(task, completed=done, total=total))
            )
    else:
        count = asyncio.run(
            run(lambda done, total: click.echo(f"re-embedded {done}/{total}", err=True))
        )
    click.echo(
        f"done: {count} memories now embedded with {provider.options.build_embedder().model}"
    )
