"""The OMP 0.1 routes and the declared extensions, over the in-memory provider."""

from __future__ import annotations

import httpx

USER = {"x-user-id": "u1"}


async def _add(client: httpx.AsyncClient, content: str = "prefers dark mode", **fields: object):
    body = {"content": content, "user_id": "u1", **fields}
    response = await client.post("/memories", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_capabilities_declare_the_provider_and_the_server_extensions(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get("/capabilities")).json()
    assert body["omp_version"] == "0.1"
    assert body["provider"] == "inmemory"
    assert "memories:batch" in body["x-openmem"]["extensions"]


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_add_answers_201_with_the_stored_record(client: httpx.AsyncClient) -> None:
    record = await _add(client, scope="ui/prefs", tags=["ui"], **{"x-app": {"v": 1}})
    assert record["id"].startswith("mem_")
    assert (record["scope"], record["tags"], record["x-app"]) == ("ui/prefs", ["ui"], {"v": 1})


async def test_idempotency_key_header_returns_the_first_record(
    client: httpx.AsyncClient,
) -> None:
    body = {"content": "once", "user_id": "u1"}
    first = await client.post("/memories", json=body, headers={"idempotency-key": "k1"})
    second = await client.post("/memories", json=body, headers={"idempotency-key": "k1"})
    assert first.json()["id"] == second.json()["id"]


async def test_get_needs_the_owner(client: httpx.AsyncClient) -> None:
    record = await _add(client)
    assert (await client.get(f"/memories/{record['id']}", headers=USER)).json() == record
    assert (await client.get(f"/memories/{record['id']}?user_id=u1")).status_code == 200
    other = await client.get(f"/memories/{record['id']}", headers={"x-user-id": "u2"})
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "not_found"


async def test_get_without_a_user_is_invalid(client: httpx.AsyncClient) -> None:
    record = await _add(client)
    response = await client.get(f"/memories/{record['id']}")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "user_id"


async def test_header_and_query_user_must_agree(client: httpx.AsyncClient) -> None:
    record = await _add(client)
    response = await client.get(f"/memories/{record['id']}?user_id=u2", headers=USER)
    assert response.status_code == 400


async def test_patch_is_a_merge_patch(client: httpx.AsyncClient) -> None:
    record = await _add(client, scope="ui", metadata={"a": 1, "b": 2})
    response = await client.patch(
        f"/memories/{record['id']}",
        json={"user_id": "u1", "scope": None, "metadata": {"a": None}, "tags": ["t"]},
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert (patched["scope"], patched["metadata"], patched["tags"]) == (None, {"b": 2}, ["t"])
    assert patched["content"] == record["content"]


async def test_patch_of_another_users_memory_is_not_found(client: httpx.AsyncClient) -> None:
    record = await _add(client)
    response = await client.patch(
        f"/memories/{record['id']}", json={"content": "x"}, headers={"x-user-id": "u2"}
    )
    assert response.status_code == 404


async def test_delete_answers_204_then_not_found(client: httpx.AsyncClient) -> None:
    record = await _add(client)
    deleted = await client.delete(f"/memories/{record['id']}", headers=USER)
    assert (deleted.status_code, deleted.content) == (204, b"")
    again = await client.delete(f"/memories/{record['id']}", headers=USER)
    assert again.status_code == 404


async def test_list_pages_with_an_opaque_cursor(client: httpx.AsyncClient) -> None:
    ids = [(await _add(client, f"memory {i}"))["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"user_id": "u1", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/memories", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))


async def test_list_filters_by_scope_prefix_and_tag(client: httpx.AsyncClient) -> None:
    await _add(client, "a", scope="coding/python", tags=["x"])
    await _add(client, "b", scope="codingstyle", tags=["x"])
    await _add(client, "c", scope="coding", tags=["y"])
    page = (await client.get("/memories?user_id=u1&scope=coding&tag=x")).json()
    assert [item["content"] for item in page["items"]] == ["a"]


async def test_search_query_form_wraps_results(client: httpx.AsyncClient) -> None:
    await _add(client, "prefers dark mode in the editor")
    await _add(client, "likes hiking on weekends")
    body = (await client.get("/memories/search", params={"q": "dark mode", "user_id": "u1"})).json()
    assert list(body) == ["results"]
    assert body["results"][0]["memory"]["content"] == "prefers dark mode in the editor"
    assert 0.0 <= body["results"][0]["score"] <= 1.0


async def test_search_body_form_applies_metadata_filters(client: httpx.AsyncClient) -> None:
    await _add(client, "dark mode at work", metadata={"place": "work"})
    await _add(client, "dark mode at home", metadata={"place": "home"})
    response = await client.post(
        "/memories/search",
        json={"query": "dark mode", "user_id": "u1", "filters": {"place": "home"}},
    )
    assert [hit["memory"]["content"] for hit in response.json()] == ["dark mode at home"]


async def test_context_stays_within_the_budget(client: httpx.AsyncClient) -> None:
    for i in range(10):
        await _add(client, f"fact number {i} about the dark mode preference of the user")
    body = (
        await client.post(
            "/context", json={"query": "dark mode", "user_id": "u1", "token_budget": 40}
        )
    ).json()
    assert 0 < body["token_count"] <= 40
    assert body["citations"]


async def test_audit_wraps_entries_newest_first(client: httpx.AsyncClient) -> None:
    record = await _add(client)
    await client.get(f"/memories/{record['id']}", headers=USER)
    entries = (await client.get("/audit?user_id=u1")).json()["entries"]
    assert [e["action"] for e in entries[:2]] == ["get", "add"]


async def test_audit_records_the_app_header(client: httpx.AsyncClient) -> None:
    await client.post(
        "/memories", json={"content": "x", "user_id": "u1"}, headers={"x-omp-app": "crm"}
    )
    entries = (await client.get("/audit?user_id=u1&action=add")).json()["entries"]
    assert entries[0]["app"] == "crm"


async def test_batch_add_stores_every_item_for_the_batch_user(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/memories:batch",
        json={"user_id": "u1", "items": [{"content": "a"}, {"content": "b", "scope": "s"}]},
    )
    assert response.status_code == 201
    assert [r["user_id"] for r in response.json()["items"]] == ["u1", "u1"]


async def test_batch_item_of_another_user_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/memories:batch", json={"user_id": "u1", "items": [{"content": "a", "user_id": "u2"}]}
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "items.0.user_id"


async def test_forget_user_deletes_only_that_user(client: httpx.AsyncClient) -> None:
    await _add(client, "a")
    await client.post("/memories", json={"content": "b", "user_id": "u2"})
    response = await client.delete("/users/u1/memories")
    assert response.json() == {"deleted": 1}
    assert len((await client.get("/memories?user_id=u2")).json()["items"]) == 1


async def test_namespace_header_separates_tenants_without_auth(
    client: httpx.AsyncClient,
) -> None:
    record = await _add(client)
    other = await client.get(
        f"/memories/{record['id']}", headers={**USER, "x-omp-namespace": "other"}
    )
    assert other.status_code == 404


async def test_docs_render(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()


async def test_a_malformed_namespace_header_is_invalid(client: httpx.AsyncClient) -> None:
    response = await client.get("/memories?user_id=u1", headers={"x-omp-namespace": "n" * 300})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "namespace"
