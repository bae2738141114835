"""``openmem mcp``: the MCP server on stdio (for desktop hosts) or streamable HTTP.

The provider is configured as for the SDK (``--provider``, ``-o NAME=VALUE``, else the
``OPENMEM_*`` environment). Over stdio the host launches the command and every tool acts for
``--user-id``; over HTTP (``--transport http``) every request carries an API key of the
key store ``openmem serve`` uses (``openmem keys create``), unless ``--no-auth`` on loopback.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import click

from openmem.cli_options import OPTION_FLAG, PROVIDER_FLAG, parse_provider_options

__all__ = ["mcp"]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@PROVIDER_FLAG
@OPTION_FLAG
@click.option(
    "--user-id",
    envvar="OPENMEM_MCP_USER_ID",
    help="The user every tool acts for (stdio; over HTTP when the key names no single user).",
)
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default="stdio",
    show_default=True,
    help="stdio for desktop hosts (Claude Desktop, Cursor); http for streamable HTTP.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP: interface.")
@click.option("--port", type=int, default=8765, show_default=True, help="HTTP: port.")
@click.option(
    "--keys-path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTTP: the key store file (default: the one openmem serve uses).",
)
@click.option("--no-auth", is_flag=True, help="HTTP without API keys; loopback only.")
def mcp(
    provider: str | None,
    options: tuple[str, ...],
    user_id: str | None,
    transport: str,
    host: str,
    port: int,
    keys_path: Path | None,
    no_auth: bool,
) -> None:
    """Serve openmem's memory tools to MCP hosts (the ``mcp`` extra)."""
    try:
        from openmem.integrations.mcp.tools import Identity, build_mcp_server
    except ImportError as exc:
        raise click.UsageError(
            f"openmem mcp needs the mcp extra: pip install 'openmem-layer[mcp]' ({exc})"
        ) from None
    from openmem.errors import ConfigurationError
    from openmem.memory import AsyncMemory

    overrides: dict[str, Any] = parse_provider_options(options)
    if provider is not None:
        overrides["provider"] = provider
    try:
        memory = AsyncMemory.from_env(**overrides)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None
    if transport == "stdio":
        if user_id is None:
            raise click.UsageError("stdio needs --user-id (or OPENMEM_MCP_USER_ID)")
        server = build_mcp_server(memory, Identity(user_id=user_id))
        _run(memory, server.run_stdio_async)
        return
    if no_auth and not _loopback(host):
        raise click.UsageError("--no-auth is only allowed on a loopback host")
    store = None
    if not no_auth:
        from openmem.server.keys import KeyStore
        from openmem.server.settings import ServerSettings

        store = KeyStore(keys_path or ServerSettings().resolved_keys_path)
        if not store.has_active_keys():
            raise click.UsageError(
                f"no API keys in {store.path}: `openmem keys create --namespace "
                f"{memory.namespace}`, or use --no-auth on loopback"
            )
    identity = Identity(user_id=user_id, key_store=store, namespace=memory.namespace)
    server = build_mcp_server(memory, identity)
    click.echo(f"openmem mcp: streamable HTTP at http://{host}:{port}/mcp", err=True)

    async def serve_http() -> None:
        import uvicorn

        app = server.streamable_http_app(stateless_http=True, host=host)
        config = uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="on")
        await uvicorn.Server(config).serve()

    _run(memory, serve_http)


def _run(memory: Any, serve: Any) -> None:
    import anyio

    async def main() -> None:
        try:
            await serve()
        finally:
            await memory.close()

    anyio.run(main)
