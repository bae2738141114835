"""The webhooks API: register, list and remove a namespace's webhooks, read a delivery log.

Only an admin key may call it: a key with no restriction of users, scopes or verbs (or a
server without auth). The provider stores and delivers the webhooks
(``openmem.webhooks.WebhookRegistry``); a provider without them answers
``unsupported_capability``. The signing secret is in the answer to ``POST /webhooks`` only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from openmem.errors import ScopeDeniedError, UnsupportedCapabilityError
from openmem.server.state import Call, CallDep
from openmem.webhooks import Webhook, WebhookDelivery, WebhookEvent, WebhookRegistry

__all__ = ["WebhookList", "WebhookRequest", "router"]

router = APIRouter()

WebhookId = Annotated[str, Path(min_length=1, max_length=256, description="The webhook id.")]


class WebhookRequest(BaseModel):
    """The body of ``POST /webhooks``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(min_length=1, max_length=2048)
    events: list[WebhookEvent] = Field(min_length=1)


class WebhookList(BaseModel):
    """The namespace's webhooks (without their secrets)."""

    items: list[Webhook]


class DeliveryLog(BaseModel):
    """A webhook's deliveries, newest first."""

    items: list[WebhookDelivery]


def _registry(call: Call) -> WebhookRegistry:
    key = call.principal.key
    if key is not None and (key.users or key.scopes or key.verbs):
        raise ScopeDeniedError("managing webhooks needs an unrestricted (admin) key")
    provider = call.state.provider
    if not isinstance(provider, WebhookRegistry):
        raise UnsupportedCapabilityError(
            f"provider {call.caps.provider!r} does not deliver webhooks",
            provider=call.caps.provider,
        )
    return provider


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    response_model=Webhook,
    summary="Register a webhook (extension; admin key)",
    tags=["webhooks"],
)
async def add_webhook(body: WebhookRequest, call: CallDep) -> Webhook:
    """Register ``url`` for ``events``; the answer carries the signing secret, shown once."""
    return await _registry(call).add_webhook(call.principal.namespace, body.url, body.events)


@router.get(
    "/webhooks",
    response_model=WebhookList,
    summary="The namespace's webhooks (extension; admin key)",
    tags=["webhooks"],
)
async def list_webhooks(call: CallDep) -> WebhookList:
    """Every webhook of the key's namespace."""
    return WebhookList(items=await _registry(call).list_webhooks(call.principal.namespace))


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove a webhook (extension; admin key)",
    tags=["webhooks"],
)
async def remove_webhook(webhook_id: WebhookId, call: CallDep) -> Response:
    """Remove the webhook and its delivery log."""
    await _registry(call).remove_webhook(call.principal.namespace, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=DeliveryLog,
    summary="A webhook's delivery log (extension; admin key)",
    tags=["webhooks"],
)
async def webhook_deliveries(
    webhook_id: WebhookId,
    call: CallDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryLog:
    """The webhook's deliveries, newest first: status, attempts, last answer."""
    registry = _registry(call)
    return DeliveryLog(
        items=await registry.webhook_deliveries(call.principal.namespace, webhook_id, limit)
    )
