"""A key bound to exactly one user supplies that user to the by-id verbs (spec/omp.md §13).

The OMP 0.1 reference client sends no user on get, update and delete. Such a key can act for
no one else, so the server reads the user from the key; any other key still needs one.
"""

from __future__ import annotations

from typing import Any

import httpx

from .conftest import AuthedServer


def _code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def _add(server: AuthedServer, user: str) -> str:
    response = await server.client.post(
        "/memories",
        json={"content": f"{user} prefers dark mode", "user_id": user},
        headers=server.key(),
    )
    assert response.status_code == 201, response.text
    memory_id: str = response.json()["id"]
    return memory_id


async def test_get_update_delete_need_no_user_with_a_key_bound_to_one_user(
    authed: AuthedServer,
) -> None:
    memory_id = await _add(authed, "u1")
    only_u1 = authed.key(users=["u1"])
    http = authed.client
    fetched = await http.get(f"/memories/{memory_id}", headers=only_u1)
    assert (fetched.status_code, fetched.json()["user_id"]) == (200, "u1")
    patched = await http.patch(f"/memories/{memory_id}", json={"content": "x"}, headers=only_u1)
    assert (patched.status_code, patched.json()["content"]) == (200, "x")
    assert (await http.delete(f"/memories/{memory_id}", headers=only_u1)).status_code == 204
    gone = await http.get(f"/memories/{memory_id}", headers=authed.key(), params={"user_id": "u1"})
    assert gone.status_code == 404


async def test_another_users_memory_stays_not_found_for_a_key_bound_to_one_user(
    authed: AuthedServer,
) -> None:
    theirs = await _add(authed, "u2")
    only_u1 = authed.key(users=["u1"])
    http = authed.client
    for response in (
        await http.get(f"/memories/{theirs}", headers=only_u1),
        await http.patch(f"/memories/{theirs}", json={"content": "mine"}, headers=only_u1),
        await http.delete(f"/memories/{theirs}", headers=only_u1),
    ):
        assert (response.status_code, _code(response)) == (404, "not_found")
    intact = await http.get(f"/memories/{theirs}", headers={**authed.key(), "x-user-id": "u2"})
    assert intact.json()["content"] == "u2 prefers dark mode"


async def test_naming_another_user_is_still_denied_to_a_key_bound_to_one_user(
    authed: AuthedServer,
) -> None:
    theirs = await _add(authed, "u2")
    only_u1 = {**authed.key(users=["u1"]), "x-user-id": "u2"}
    response = await authed.client.get(f"/memories/{theirs}", headers=only_u1)
    assert (response.status_code, _code(response)) == (403, "scope_denied")


async def test_other_keys_still_need_a_user_on_by_id_verbs(authed: AuthedServer) -> None:
    memory_id = await _add(authed, "u1")
    keys: list[dict[str, Any]] = [authed.key(), authed.key(users=["u1", "u2"])]
    for headers in keys:
        response = await authed.client.get(f"/memories/{memory_id}", headers=headers)
        assert (response.status_code, _code(response)) == (400, "invalid_request")
