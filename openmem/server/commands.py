"""``openmem serve`` and ``openmem keys``: the server's command line.

Both are click commands registered under the entry point group ``openmem.commands``.
Options resolve flags > ``--config`` file > ``OPENMEM_SERVER_*`` / ``OPENMEM_*`` environment
> defaults, exactly like the SDK.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from openmem.cli_options import OPTION_FLAG, PROVIDER_FLAG, parse_provider_options
from openmem.errors import ConfigurationError
from openmem.server.keys import VERB_GROUPS, KeyStore
from openmem.server.log_format import LogFormat, configure_logging
from openmem.server.settings import load_server_settings

__all__ = ["keys", "serve"]


@click.command()
@PROVIDER_FLAG
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML file: provider options at top level or [openmem], server options in [server].",
)
@click.option("--host", help="Interface to bind (default 127.0.0.1).")
@click.option("--port", type=int, help="Port (default 8080; 0 picks a free one).")
@click.option(
    "--no-auth",
    "no_auth",
    is_flag=True,
    default=None,
    help="Serve without API keys; only allowed on a loopback host.",
)
@click.option(
    "--keys-path", type=click.Path(dir_okay=False, path_type=Path), help="The key store file."
)
@click.option("--max-body-bytes", type=int, help="Largest request body (default 1 MiB).")
@click.option("--namespace", help="Namespace of requests when auth is off (default 'default').")
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="Least severe level logged (default info).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per line (time, level, logger, message, request_id).",
)
@click.option("--graceful-timeout", type=float, help="Seconds in-flight requests get on shutdown.")
@OPTION_FLAG
def serve(
    provider: str | None,
    config_file: Path | None,
    host: str | None,
    port: int | None,
    no_auth: bool | None,
    keys_path: Path | None,
    max_body_bytes: int | None,
    namespace: str | None,
    log_level: str | None,
    log_format: LogFormat,
    graceful_timeout: float | None,
    options: tuple[str, ...],
) -> None:
    """Serve a provider over HTTP as an Open Memory Protocol (OMP 0.1) server."""
    import uvicorn

    from openmem.server.app import create_app, uses_database_keys
    from openmem.server.serving import uvicorn_config
    from openmem.tracing import instrument_libraries

    instrument_libraries()  # asyncpg and httpx spans under the verb spans, when installed

    flags: dict[str, Any] = {
        "host": host,
        "port": port,
        "auth": False if no_auth else None,
        "keys_path": keys_path,
        "max_body_bytes": max_body_bytes,
        "namespace": namespace,
        "log_level": log_level,
        "graceful_timeout": graceful_timeout,
    }
    try:
        settings = load_server_settings(flags=flags, file=config_file)
        settings.check_exposure()
        provider_options: dict[str, Any] = {"provider": provider, **parse_provider_options(options)}
        app = create_app(settings, provider_options=provider_options, config_file=config_file)
        store = app.state.openmem.key_store
        if (
            store is not None
            and not uses_database_keys(app.state.openmem)
            and not store.has_active_keys()
        ):
            raise ConfigurationError(
                f"no API keys in {store.path}: create one with "
                "`openmem keys create --namespace NAME`, or serve on loopback with --no-auth"
            )
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None
    configure_logging(settings.log_level, log_format)
    name = app.state.openmem.provider.name
    click.echo(
        f"openmem serve: serving {name!r} at http://{settings.host}:{settings.port} "
        f"(auth: {'api keys' if settings.auth else 'off'})",
        err=True,
    )
    config = uvicorn_config(app, settings)
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        sys.exit(1)


# -- keys ----------------------------------------------------------------------------------


def _store(keys_path: Path | None, config_file: Path | None) -> KeyStore:
    try:
        settings = load_server_settings(flags={"keys_path": keys_path}, file=config_file)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None
    return KeyStore(settings.resolved_keys_path)


_keys_path_option = click.option(
    "--keys-path", type=click.Path(dir_okay=False, path_type=Path), help="The key store file."
)
_config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML file whose [server] table may set keys_path.",
)


@click.group()
def keys() -> None:
    """Create, list and revoke the server's API keys."""


@keys.command("create")
@click.option("--namespace", required=True, help="The tenant this key is bound to.")
@click.option("--label", help="A name for people, shown by `keys list`.")
@click.option("--user", "users", multiple=True, help="Restrict to this user (repeatable).")
@click.option(
    "--scope", "scopes", multiple=True, help="Restrict to this scope prefix (repeatable)."
)
@click.option(
    "--verbs",
    help="Comma-separated: " + ", ".join(VERB_GROUPS) + " or single verbs (default: all).",
)
@click.option("--app", help="App name recorded in the audit log for this key.")
@click.option("--json", "as_json", is_flag=True, help="Print the key and its record as JSON.")
@_keys_path_option
@_config_option
def create_key(
    namespace: str,
    label: str | None,
    users: tuple[str, ...],
    scopes: tuple[str, ...],
    verbs: str | None,
    app: str | None,
    as_json: bool,
    keys_path: Path | None,
    config_file: Path | None,
) -> None:
    """Create a key; it is printed once and only its hash is stored."""
    store = _store(keys_path, config_file)
    try:
        key, record = store.create(
            namespace=namespace,
            label=label,
            users=users or None,
            scopes=scopes or None,
            verbs=verbs.split(",") if verbs else None,
            app=app,
        )
    except (ConfigurationError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        public = record.model_dump(mode="json", exclude={"key_hash"})
        click.echo(json.dumps({"key": key, **public}))
        return
    click.echo(key)
    click.echo(
        f"key id {record.key_id} for namespace {record.namespace!r} stored in {store.path}; "
        "the key is shown only now",
        err=True,
    )


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON lines.")
@_keys_path_option
@_config_option
def list_keys(as_json: bool, keys_path: Path | None, config_file: Path | None) -> None:
    """List the keys (never the keys themselves, only their ids and restrictions)."""
    store = _store(keys_path, config_file)
    for record in store.records():
        public = record.model_dump(mode="json", exclude={"key_hash"})
        if as_json:
            click.echo(json.dumps(public))
            continue
        status = "revoked" if record.revoked_at else "active"
        click.echo(
            f"{record.key_id}  {status:7}  ns={record.namespace}  "
            f"label={record.label or '-'}  users={','.join(record.users or ['*'])}  "
            f"scopes={','.join(record.scopes or ['*'])}  "
            f"verbs={','.join(record.verbs or ['*'])}  created={record.created_at:%Y-%m-%d}"
        )


@keys.command("revoke")
@click.argument("key_id")
@_keys_path_option
@_config_option
def revoke_key(key_id: str, keys_path: Path | None, config_file: Path | None) -> None:
    """Revoke a key by its id; a running server refuses it within a second."""
    store = _store(keys_path, config_file)
    try:
        record = store.revoke(key_id)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"revoked {record.key_id}", err=True)


@keys.command("migrate")
@_keys_path_option
@_config_option
@click.option("--provider", help="Provider name (default: configured; postgres).")
@click.option(
    "--option",
    "-o",
    "options",
    multiple=True,
    help="Provider option key=value, e.g. url=postgresql://... (OPENMEM_* fill the rest).",
)
def migrate_keys(
    keys_path: Path | None, config_file: Path | None, provider: str | None, options: tuple[str, ...]
) -> None:
    """Copy the JSON key file's keys into the provider's database, shared by every replica.

    Keys keep their ids, hashes, restrictions and revocations; keys already there are left
    as they are. A server with ``key_backend`` auto uses the database once the file holds no
    active key (empty it after migrating), or set ``key_backend = "database"``.
    """
    import asyncio

    from openmem.config import resolve_config
    from openmem.server.settings import provider_table

    records = _store(keys_path, config_file).records()
    try:
        file = provider_table(config_file) if config_file is not None else None
        kwargs: dict[str, Any] = {"provider": provider, **parse_provider_options(options)}
        target = resolve_config(kwargs=kwargs, file=file).build_provider()
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None
    opener = getattr(target, "open_shared_keys", None)
    if opener is None:
        raise click.UsageError(f"provider {target.name!r} has no database to keep keys in")

    async def run() -> int:
        await target.open()
        try:
            shared = await opener()
            added: int = await shared.import_keys(records)
            return added
        finally:
            await target.close()

    added = asyncio.run(run())
    click.echo(f"copied {added} of {len(records)} keys into the database of {target.name!r}")
