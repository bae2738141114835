"""The by-key routes over HTTP: puts through ``POST /memories``, ``/memories:by-key``."""

from __future__ import annotations

from typing import Any

import httpx

AuthedServer = Any  # the `authed` fixture of conftest.py


async def test_put_get_and_delete_by_key_over_http(client: httpx.AsyncClient) -> None:
    first = await client.post("/memories", json={"content": "v1", "user_id": "u1", "key": "k"})
    second = await client.post("/memories", json={"content": "v2", "user_id": "u1", "key": "k"})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    got = await client.get("/memories:by-key", params={"key": "k", "user_id": "u1"})
    assert got.status_code == 200
    assert got.json()["content"] == "v2"
    assert got.json()["key"] == "k"
    gone = await client.delete("/memories:by-key", params={"key": "k"}, headers={"x-user-id": "u1"})
    assert gone.status_code == 204
    again = await client.get("/memories:by-key", params={"key": "k", "user_id": "u1"})
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "not_found"


async def test_a_key_in_a_scope_outside_the_api_key_is_not_found(authed: AuthedServer) -> None:
    admin = authed.key()
    work = authed.key(scopes=["work"])
    body = {"content": "home note", "user_id": "u1", "scope": "home", "key": "k"}
    assert (await authed.client.post("/memories", json=body, headers=admin)).status_code == 201
    params = {"key": "k", "scope": "home", "user_id": "u1"}
    hidden = await authed.client.get("/memories:by-key", params=params, headers=work)
    assert hidden.status_code == 404
    refused = await authed.client.delete("/memories:by-key", params=params, headers=work)
    assert refused.status_code == 404
    assert (
        await authed.client.get("/memories:by-key", params=params, headers=admin)
    ).status_code == 200


async def test_a_keyed_batch_is_invalid_request(client: httpx.AsyncClient) -> None:
    body = {"user_id": "u1", "items": [{"content": "a"}, {"content": "b", "key": "k"}]}
    response = await client.post("/memories:batch", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "items.1.key"
