"""``openmem webhooks``: register, list and remove webhooks, and read a delivery log.

Works on any provider that stores webhooks (``openmem.webhooks.WebhookRegistry``: the
postgres provider), in the configured namespace; the API of ``openmem serve`` offers the
same to an admin key.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from openmem.cli import memory_from_cli, provider_flags, run_with_memory

if TYPE_CHECKING:
    from openmem.memory import AsyncMemory
    from openmem.webhooks import WebhookRegistry

__all__ = ["webhooks"]


def _registry(memory: AsyncMemory) -> WebhookRegistry:
    from openmem.webhooks import WebhookRegistry

    provider = memory.provider
    if not isinstance(provider, WebhookRegistry):
        raise click.ClickException(
            f"provider {getattr(provider, 'name', '?')!r} does not deliver webhooks"
        )
    return provider


def _echo(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


@click.group()
def webhooks() -> None:
    """Manage the webhooks of a namespace (memory.added, memory.add_failed)."""


@webhooks.command("add")
@provider_flags
@click.argument("url")
@click.option(
    "--events",
    default="memory.added",
    show_default=True,
    help="Comma-separated: memory.added, memory.add_failed.",
)
def add(
    provider: str | None, config: str | None, options: tuple[str, ...], namespace: str | None,
    url: str, events: str,
) -> None:  # fmt: skip
    """Register URL; prints the webhook with its signing secret (shown only now)."""
    memory = memory_from_cli(provider, config, options, namespace=namespace)
    wanted = [e.strip() for e in events.split(",") if e.strip()]
    hook = run_with_memory(
        memory,
        lambda m: _registry(m).add_webhook(m.namespace, url, wanted),  # type: ignore[arg-type]
    )
    _echo(hook.model_dump(mode="json"))


@webhooks.command("list")
@provider_flags
def list_webhooks(
    provider: str | None, config: str | None, options: tuple[str, ...], namespace: str | None
) -> None:
    """List the namespace's webhooks."""
    memory = memory_from_cli(provider, config, options, namespace=namespace)
    hooks = run_with_memory(memory, lambda m: _registry(m).list_webhooks(m.namespace))
    _echo([h.model_dump(mode="json", exclude={"secret"}) for h in hooks])


@webhooks.command("remove")
@provider_flags
@click.argument("webhook_id")
def remove(
    provider: str | None, config: str | None, options: tuple[str, ...], namespace: str | None,
    webhook_id: str,
) -> None:  # fmt: skip
    """Remove a webhook and its delivery log."""
    memory = memory_from_cli(provider, config, options, namespace=namespace)
    run_with_memory(memory, lambda m: _registry(m).remove_webhook(m.namespace, webhook_id))
    click.echo(f"removed {webhook_id}")


@webhooks.command("deliveries")
@provider_flags
@click.argument("webhook_id")
@click.option("--limit", default=20, show_default=True, help="At most this many deliveries.")
def deliveries(
    provider: str | None, config: str | None, options: tuple[str, ...], namespace: str | None,
    webhook_id: str, limit: int,
) -> None:  # fmt: skip
    """Show a webhook's delivery log, newest first."""
    memory = memory_from_cli(provider, config, options, namespace=namespace)
    log = run_with_memory(
        memory, lambda m: _registry(m).webhook_deliveries(m.namespace, webhook_id, limit)
    )
    _echo([d.model_dump(mode="json") for d in log])
