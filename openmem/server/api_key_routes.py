"""The keys API: an admin key creates, lists and revokes its namespace's keys.

Offered when the keys live in the provider's database (``key_backend``): every replica
honours a key created or revoked through any one of them within a second. An admin key is
one without restrictions of users, scopes or verbs; it manages keys of its own namespace
only. The plaintext of a new key is in the answer to ``POST /keys`` and nowhere else.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from openmem.api_keys import KeyVerb, SharedKeyStore
from openmem.errors import ScopeDeniedError, UnsupportedCapabilityError
from openmem.models import Identifier
from openmem.server.state import Call, CallDep

__all__ = ["KeyRequest", "router"]

router = APIRouter()


class KeyRequest(BaseModel):
    """The body of ``POST /keys``: the restrictions of the new key (none: an admin key)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str | None = Field(default=None, max_length=256)
    users: list[Identifier] | None = None
    scopes: list[str] | None = None
    verbs: list[KeyVerb] | None = None
    app: Identifier | None = None


class KeyList(BaseModel):
    """The namespace's keys: ids, restrictions, state (never a key or its hash)."""

    items: list[dict[str, Any]]


def _keys(call: Call) -> SharedKeyStore:
    key = call.principal.key
    if key is not None and (key.users or key.scopes or key.verbs):
        raise ScopeDeniedError("managing keys needs an unrestricted (admin) key")
    shared = call.state.shared_keys
    if shared is None:
        raise UnsupportedCapabilityError(
            "keys are managed over the API only when they live in the database "
            "(key_backend); use `openmem keys`"
        )
    return shared


@router.post(
    "/keys",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key (extension; admin key)",
    tags=["keys"],
)
async def create_key(body: KeyRequest, call: CallDep) -> dict[str, Any]:
    """A new key of the caller's namespace: ``key`` is shown only in this answer."""
    key, record = await _keys(call).create_key(
        namespace=call.principal.namespace,
        label=body.label,
        users=body.users,
        scopes=body.scopes,
        verbs=body.verbs,
        app=body.app,
    )
    return {"key": key, **record.model_dump(mode="json", exclude={"key_hash"})}


@router.get(
    "/keys", response_model=KeyList, summary="The namespace's API keys (extension; admin key)",
    tags=["keys"],
)  # fmt: skip
async def list_keys(call: CallDep) -> KeyList:
    """Every key of the caller's namespace, revoked ones included."""
    records = [r for r in _keys(call).records() if r.namespace == call.principal.namespace]
    return KeyList(items=[r.model_dump(mode="json", exclude={"key_hash"}) for r in records])


@router.delete(
    "/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Revoke an API key (extension; admin key)",
    tags=["keys"],
)
async def revoke_key(
    key_id: Annotated[str, Path(min_length=1, max_length=64)], call: CallDep
) -> Response:
    """Revoke a key of the caller's namespace; every replica refuses it within a second."""
    await _keys(call).revoke_key(key_id, namespace=call.principal.namespace)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
