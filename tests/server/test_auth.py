"""API keys: authentication, tenancy by namespace, and the key's restrictions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from openmem.errors import ConfigurationError
from openmem.inmemory import InMemoryProvider
from openmem.server import KeyStore, ServerSettings, create_app

AuthedServer = Any  # the `authed` fixture of conftest.py


def _code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def _add(server: AuthedServer, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"content": "prefers dark mode", "user_id": "u1", **fields}
    response = await server.client.post("/memories", json=body, headers=headers)
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


async def test_no_key_is_unauthorized(authed: AuthedServer) -> None:
    response = await authed.client.get("/memories?user_id=u1")
    assert (response.status_code, _code(response)) == (401, "unauthorized")


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Bearer omk_abcdefghijkl_notthesecretatall000"},
        {"authorization": "Bearer garbage"},
        {"authorization": "Basic dXNlcjpwYXNz"},
        {"x-api-key": ""},
    ],
)
async def test_wrong_credentials_are_unauthorized(
    authed: AuthedServer, headers: dict[str, str]
) -> None:
    response = await authed.client.get("/memories?user_id=u1", headers=headers)
    assert (response.status_code, _code(response)) == (401, "unauthorized")


async def test_x_api_key_header_authenticates(authed: AuthedServer) -> None:
    bearer = authed.key()
    key = bearer["authorization"].removeprefix("Bearer ")
    response = await authed.client.get("/memories?user_id=u1", headers={"x-api-key": key})
    assert response.status_code == 200


async def test_revoked_key_is_unauthorized(authed: AuthedServer) -> None:
    key, record = authed.store.create(namespace="a")
    authed.store.revoke(record.key_id)
    response = await authed.client.get(
        "/memories?user_id=u1", headers={"authorization": f"Bearer {key}"}
    )
    assert response.status_code == 401


async def test_capabilities_and_healthz_need_no_key(authed: AuthedServer) -> None:
    assert (await authed.client.get("/capabilities")).status_code == 200
    assert (await authed.client.get("/healthz")).status_code == 200
    assert (await authed.client.get("/metrics")).status_code == 200


async def test_a_key_of_namespace_b_reaches_nothing_of_namespace_a(authed: AuthedServer) -> None:
    key_a, key_b = authed.key(namespace="a"), authed.key(namespace="b")
    record = await _add(authed, key_a, scope="s")
    path = f"/memories/{record['id']}"
    http = authed.client
    user_b = {**key_b, "x-user-id": "u1"}
    assert (await http.get(path, headers=user_b)).status_code == 404
    assert (await http.patch(path, json={"content": "x"}, headers=user_b)).status_code == 404
    assert (await http.delete(path, headers=user_b)).status_code == 404
    listing = await http.get("/memories?user_id=u1", headers=key_b)
    assert listing.json()["items"] == []
    search = await http.get("/memories/search?q=dark&user_id=u1", headers=key_b)
    assert search.json()["results"] == []
    body = {"query": "dark", "user_id": "u1", "filters": {}}
    assert (await http.post("/memories/search", json=body, headers=key_b)).json() == []
    context = await http.post("/context", json={"query": "dark", "user_id": "u1"}, headers=key_b)
    assert context.json()["citations"] == []
    audit_b = (await http.get("/audit?user_id=u1", headers=key_b)).json()["entries"]
    assert all(e["action"] not in ("add", "update", "delete") for e in audit_b)  # B's own reads
    assert (await http.delete("/users/u1/memories", headers=key_b)).json() == {"deleted": 0}
    # and namespace A is intact
    assert (await http.get(path, headers={**key_a, "x-user-id": "u1"})).status_code == 200


async def test_key_cannot_pick_another_namespace(authed: AuthedServer) -> None:
    headers = {**authed.key(namespace="a"), "x-omp-namespace": "b"}
    response = await authed.client.get("/memories?user_id=u1", headers=headers)
    assert (response.status_code, _code(response)) == (403, "scope_denied")


async def test_a_read_key_cannot_add(authed: AuthedServer) -> None:
    read = authed.key(verbs=["read"])
    response = await authed.client.post(
        "/memories", json={"content": "x", "user_id": "u1"}, headers=read
    )
    assert (response.status_code, _code(response)) == (403, "scope_denied")


async def test_a_read_key_can_read(authed: AuthedServer) -> None:
    record = await _add(authed, authed.key())
    read = {**authed.key(verbs=["read"]), "x-user-id": "u1"}
    assert (await authed.client.get(f"/memories/{record['id']}", headers=read)).status_code == 200
    assert (
        await authed.client.delete(f"/memories/{record['id']}", headers=read)
    ).status_code == 403


async def test_a_user_restricted_key_cannot_act_for_others(authed: AuthedServer) -> None:
    only_u1 = authed.key(users=["u1"])
    assert (await authed.client.get("/memories?user_id=u1", headers=only_u1)).status_code == 200
    response = await authed.client.get("/memories?user_id=u2", headers=only_u1)
    assert (response.status_code, _code(response)) == (403, "scope_denied")


async def test_a_scope_restricted_key_writes_only_under_its_scopes(authed: AuthedServer) -> None:
    work = authed.key(scopes=["work"])
    await _add(authed, work, scope="work/notes")
    response = await authed.client.post(
        "/memories", json={"content": "x", "user_id": "u1", "scope": "home"}, headers=work
    )
    assert (response.status_code, _code(response)) == (403, "scope_denied")
    unscoped = await authed.client.post(
        "/memories", json={"content": "x", "user_id": "u1"}, headers=work
    )
    assert unscoped.status_code == 403


async def test_a_scope_restricted_key_sees_only_its_scopes(authed: AuthedServer) -> None:
    full = authed.key()
    home = await _add(authed, full, scope="home")
    await _add(authed, full, scope="work/notes")
    work = authed.key(scopes=["work"])
    listing = (await authed.client.get("/memories?user_id=u1", headers=work)).json()
    assert [item["scope"] for item in listing["items"]] == ["work/notes"]
    hidden = await authed.client.get(f"/memories/{home['id']}", headers={**work, "x-user-id": "u1"})
    assert hidden.status_code == 404
    denied = await authed.client.get("/memories?user_id=u1&scope=home", headers=work)
    assert denied.status_code == 403


async def test_a_scope_restricted_key_cannot_forget_a_user(authed: AuthedServer) -> None:
    response = await authed.client.delete("/users/u1/memories", headers=authed.key(scopes=["w"]))
    assert response.status_code == 403


async def test_the_server_refuses_to_start_without_keys(
    asgi: Callable[..., Any], tmp_path: Path
) -> None:
    app = create_app(ServerSettings(keys_path=tmp_path / "none.json"), provider=InMemoryProvider())
    with pytest.raises(ConfigurationError, match="no API keys"):
        async with asgi(app):
            pass


def test_no_auth_is_refused_off_loopback() -> None:
    with pytest.raises(ConfigurationError, match="loopback"):
        ServerSettings(auth=False, host="0.0.0.0").check_exposure()
    ServerSettings(auth=False, host="::1").check_exposure()


def test_keys_are_stored_hashed(key_store: KeyStore) -> None:
    key, record = key_store.create(namespace="a", verbs=["read", "delete"])
    text = key_store.path.read_text()
    assert key not in text
    assert key.split("_")[-1] not in text
    assert record.key_id in text
    assert key_store.path.stat().st_mode & 0o777 == 0o600
    assert record.verbs == ["search", "get", "list", "context", "audit", "delete", "forget_user"]


def test_a_running_store_sees_keys_created_elsewhere(key_store: KeyStore) -> None:
    key, _ = KeyStore(key_store.path).create(namespace="a")
    key_store._checked_at = 0.0  # skip the once-a-second throttle
    verified = key_store.verify(key)
    assert verified is not None
    assert verified.namespace == "a"


def test_unknown_verb_is_a_configuration_error(key_store: KeyStore) -> None:
    with pytest.raises(ConfigurationError, match="unknown verb"):
        key_store.create(namespace="a", verbs=["fly"])
