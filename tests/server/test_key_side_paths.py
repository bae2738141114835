"""Key restrictions on every side path: a table of (restriction x verb x side path).

Each row binds a key one way (scope prefixes, users, verbs), makes one request that reaches
a record only indirectly (an idempotency replay, ``supersedes``, a refused by-id verb), and
states the answer and what must not happen: no record outside the key's view returned or
revealed, no memory of another scope retired, no audit entry of a read that did not happen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from openmem.server.side_paths import IDEMPOTENCY_CONFLICT

from .conftest import AuthedServer

SECRET = "their secret content"


@dataclass
class World:
    """Stored by an unrestricted key in namespace ``a`` for user ``u1``."""

    server: AuthedServer
    admin: dict[str, str]
    theirs: dict[str, Any]  # scope "theirs", idempotency key "k-theirs"
    own: dict[str, Any]  # scope "mine"

    async def audit_of(self, memory_id: str) -> list[str]:
        response = await self.server.client.get(
            "/audit", params={"user_id": "u1", "limit": 1000}, headers=self.admin
        )
        assert response.status_code == 200, response.text
        return [e["action"] for e in response.json()["entries"] if e.get("memory_id") == memory_id]

    async def still_active(self, memory_id: str) -> bool:
        response = await self.server.client.post(
            "/memories/search",
            json={"query": SECRET, "user_id": "u1", "limit": 100},
            headers=self.admin,
        )
        assert response.status_code == 200, response.text
        return memory_id in {hit["memory"]["id"] for hit in response.json()}


@pytest.fixture
async def world(authed: AuthedServer) -> World:
    admin = authed.key()
    http = authed.client
    theirs = await http.post(
        "/memories",
        json={"content": SECRET, "user_id": "u1", "scope": "theirs"},
        headers={**admin, "idempotency-key": "k-theirs"},
    )
    own = await http.post(
        "/memories", json={"content": "my note", "user_id": "u1", "scope": "mine"}, headers=admin
    )
    assert theirs.status_code == own.status_code == 201
    return World(authed, admin, theirs.json(), own.json())


Request = Callable[[World, dict[str, str]], Awaitable[httpx.Response]]


def add(**fields: Any) -> Request:
    async def send(w: World, key: dict[str, str]) -> httpx.Response:
        body = {"content": "my note", "user_id": "u1", "scope": "mine", **fields}
        return await w.server.client.post("/memories", json=body, headers=key)

    return send


def batch(**fields: Any) -> Request:
    async def send(w: World, key: dict[str, str]) -> httpx.Response:
        item = {"content": "my note", "scope": "mine", **fields}
        body = {"user_id": "u1", "items": [item]}
        return await w.server.client.post("/memories:batch", json=body, headers=key)

    return send


def conversation(**fields: Any) -> Request:
    async def send(w: World, key: dict[str, str]) -> httpx.Response:
        body = {
            "messages": [{"role": "user", "content": "my note"}],
            "user_id": "u1",
            "scope": "mine",
            **fields,
        }
        return await w.server.client.post("/memories", json=body, headers=key)

    return send


def supersede(via: str) -> Request:
    async def send(w: World, key: dict[str, str]) -> httpx.Response:
        retired = [w.theirs["id"]]
        if via == "conversation":
            return await conversation(supersedes=retired)(w, key)
        if via == "update":
            path = f"/memories/{w.own['id']}"
            return await w.server.client.patch(
                path, json={"supersedes": retired}, headers={**key, "x-user-id": "u1"}
            )
        return await (add if via == "add" else batch)(supersedes=retired)(w, key)

    return send


def by_id(method: str) -> Request:
    async def send(w: World, key: dict[str, str]) -> httpx.Response:
        path = f"/memories/{w.theirs['id']}"
        headers = {**key, "x-user-id": "u1"}
        if method == "PATCH":
            return await w.server.client.patch(path, json={"tags": ["x"]}, headers=headers)
        return await w.server.client.request(method, path, headers=headers)

    return send


@dataclass(frozen=True)
class Row:
    restriction: dict[str, Any]
    request: Request
    status: int
    code: str | None = None
    message: str | None = None
    field: str | None = None
    # What must hold afterwards on the record of scope "theirs".
    theirs_audit: tuple[str, ...] = ("add",)
    theirs_active: bool = True


SCOPED = {"scopes": ["mine"]}
ADD_ONLY = {"verbs": ["add"]}
OTHER_USER = {"users": ["u2"]}

# The side paths that can name another memory in ``supersedes``, and the by-id verbs.
SUPERSEDING = {
    "add": "add",
    "batch add": "batch",
    "update": "update",
    "conversation add": "conversation",
}
BY_ID = {"get": "GET", "update": "PATCH", "delete": "DELETE"}


def replay_refused(request: Request) -> Row:
    """A replay a scoped key may not see: the one conflict message, naming no record."""
    return Row(SCOPED, request, 409, "conflict", IDEMPOTENCY_CONFLICT, "idempotency_key")


TABLE: dict[str, Row] = {
    # -- idempotency replay -------------------------------------------------------------
    "scope x add x replay of another scope's record": replay_refused(
        add(idempotency_key="k-theirs", content=SECRET)
    ),
    "scope x add x replay with other content": replay_refused(add(idempotency_key="k-theirs")),
    "scope x batch add x replay of another scope's record": replay_refused(
        batch(idempotency_key="k-theirs", content=SECRET)
    ),
    "verbs x add x replay with other content": Row(
        ADD_ONLY, add(idempotency_key="k-theirs"), 409, "conflict"
    ),
    # -- supersedes -------------------------------------------------------------------
    **{
        f"scope x {name} x supersedes another scope's memory": Row(
            SCOPED, supersede(via), 404, "not_found", field="supersedes"
        )
        for name, via in SUPERSEDING.items()
    },
    **{
        f"verbs x {name} x supersedes without update": Row(
            ADD_ONLY, supersede(via), 403, "scope_denied", field="supersedes"
        )
        for name, via in SUPERSEDING.items()
        if via != "update"
    },
    "users x add x supersedes as another user": Row(
        OTHER_USER, supersede("add"), 403, "scope_denied", field="user_id"
    ),
    # -- refused by-id verbs leave no audit entry -------------------------------------
    **{
        f"scope x {name} x another scope's memory": Row(SCOPED, by_id(method), 404, "not_found")
        for name, method in BY_ID.items()
    },
    "verbs x get x not allowed": Row(ADD_ONLY, by_id("GET"), 403, "scope_denied"),
    "users x delete x another user's memory": Row(OTHER_USER, by_id("DELETE"), 403),
}


@pytest.mark.parametrize("row", TABLE.values(), ids=list(TABLE))
async def test_a_key_restriction_holds_on_the_side_path(world: World, row: Row) -> None:
    key = world.server.key(**row.restriction)
    response = await row.request(world, key)
    assert response.status_code == row.status, response.text
    error = response.json()["error"]
    if row.code is not None:
        assert error["code"] == row.code
    if row.message is not None:
        assert error["message"] == row.message
    if row.field is not None:
        assert error.get("field") == row.field
    # Nothing of the record outside the key's view leaks into the answer.
    assert SECRET not in response.text
    if response.status_code == 409:  # a replay: the request never named the record's id
        assert world.theirs["id"] not in response.text
    assert tuple(await world.audit_of(world.theirs["id"])) == row.theirs_audit
    assert await world.still_active(world.theirs["id"]) == row.theirs_active


async def test_a_scoped_key_still_replays_its_own_add(world: World) -> None:
    key = world.server.key(scopes=["mine"])
    first = await add(idempotency_key="k-mine")(world, key)
    again = await add(idempotency_key="k-mine")(world, key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]


async def test_a_scoped_key_may_supersede_inside_its_scopes(world: World) -> None:
    key = world.server.key(scopes=["mine"])
    response = await add(supersedes=[world.own["id"]])(world, key)
    assert response.status_code == 201, response.text


async def test_an_unknown_and_an_invisible_superseded_id_answer_alike(world: World) -> None:
    key = world.server.key(scopes=["mine"])
    invisible = await add(supersedes=[world.theirs["id"]])(world, key)
    unknown = await add(supersedes=["no-such-memory"])(world, key)
    shape = [
        (r.status_code, r.json()["error"]["code"], r.json()["error"]["field"])
        for r in (invisible, unknown)
    ]
    assert shape[0] == shape[1] == (404, "not_found", "supersedes")
