"""Every error in the OMP envelope: framework errors, validation, body limit, request ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from openmem.errors import ERROR_TABLE
from openmem.inmemory import InMemoryProvider
from openmem.models import Capabilities, MemoryRecord
from openmem.provider import Caller


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert {"code", "message", "type", "request_id"} <= set(error)
    assert error["request_id"] == response.headers["x-request-id"]
    assert ERROR_TABLE[error["code"]].http_status == response.status_code
    return error


async def test_unknown_route_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")
    assert (response.status_code, _error(response)["code"]) == (404, "not_found")


async def test_trailing_slash_is_not_redirected(client: httpx.AsyncClient) -> None:
    response = await client.get("/memories/")
    assert response.status_code in (400, 404)
    _error(response)


async def test_wrong_method_is_method_not_allowed_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.put("/memories")
    assert (response.status_code, _error(response)["code"]) == (405, "method_not_allowed")
    assert response.headers["allow"] == "GET, POST"


async def test_malformed_json_is_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/memories", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert (response.status_code, _error(response)["field"]) == (400, "body")


async def test_missing_body_is_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.post("/memories")
    assert (response.status_code, _error(response)["code"]) == (400, "invalid_request")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user_id": "u1"}, "content"),
        ({"content": "x"}, "user_id"),
        ({"content": "   ", "user_id": "u1"}, "content"),
        ({"content": "x", "user_id": "u1", "scope": "a//b"}, "scope"),
        ({"content": "x", "user_id": "u1", "confidence": 2}, "confidence"),
        ({"content": "x", "user_id": "u1", "colour": "red"}, "body"),
        ({"content": "x\u0000", "user_id": "u1"}, "content"),
        (["not", "an", "object"], "body"),
    ],
)
async def test_bad_add_body_names_the_field(
    client: httpx.AsyncClient, body: object, field: str
) -> None:
    response = await client.post("/memories", json=body)
    assert response.status_code == 400
    assert _error(response)["field"] == field


async def test_validity_window_is_checked(client: httpx.AsyncClient) -> None:
    body = {
        "content": "x",
        "user_id": "u1",
        "valid_from": "2030-01-01T00:00:00Z",
        "valid_to": "2020-01-01T00:00:00Z",
    }
    response = await client.post("/memories", json=body)
    assert (response.status_code, _error(response)["field"]) == (400, "valid_to")


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=abc", "since=yesterday", "scope=a/*x", "cursor=", "user_id="],
)
async def test_bad_list_parameters_are_invalid_request(
    client: httpx.AsyncClient, query: str
) -> None:
    response = await client.get(f"/memories?user_id=u1&{query}")
    assert response.status_code == 400
    _error(response)


async def test_garbage_cursor_is_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.get("/memories?user_id=u1&cursor=%%%garbage")
    assert (response.status_code, _error(response)["code"]) == (400, "invalid_request")


async def test_body_over_the_limit_is_413_before_parsing(
    asgi: Callable[..., Any], app_factory: Callable[..., Any]
) -> None:
    async with asgi(app_factory(max_body_bytes=2048)) as http:
        response = await http.post("/memories", json={"content": "x" * 4096, "user_id": "u1"})
    assert (response.status_code, _error(response)["code"]) == (413, "payload_too_large")


async def test_streamed_body_over_the_limit_is_413(
    asgi: Callable[..., Any], app_factory: Callable[..., Any]
) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"x" * 1024

    async with asgi(app_factory(max_body_bytes=2048)) as http:
        response = await http.post(
            "/memories", content=chunks(), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    _error(response)


async def test_sane_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/capabilities", headers={"x-request-id": "abc.DEF-123_x"})
    assert response.headers["x-request-id"] == "abc.DEF-123_x"


@pytest.mark.parametrize("sent", ["has space", "x" * 65, "semi;colon", ""])
async def test_insane_request_id_is_replaced(client: httpx.AsyncClient, sent: str) -> None:
    response = await client.get("/nowhere", headers={"x-request-id": sent})
    assert response.headers["x-request-id"] != sent
    assert _error(response)["request_id"] == response.headers["x-request-id"]


async def test_request_id_reaches_the_provider(client: httpx.AsyncClient) -> None:
    await client.post(
        "/memories", json={"content": "x", "user_id": "u1"}, headers={"x-request-id": "trace-1"}
    )
    entries = (await client.get("/audit?user_id=u1&action=add")).json()["entries"]
    assert entries[0]["request_id"] == "trace-1"


class _Exploding(InMemoryProvider):
    async def get(self, caller: Caller, memory_id: str) -> MemoryRecord:
        raise RuntimeError("secret internals")


async def test_unexpected_exception_is_internal_error_without_details(
    asgi: Callable[..., Any], app_factory: Callable[..., Any]
) -> None:
    async with asgi(app_factory(_Exploding())) as http:
        response = await http.get("/memories/mem_x", headers={"x-user-id": "u1"})
    error = _error(response)
    assert (response.status_code, error["code"]) == (500, "internal_error")
    assert "secret" not in response.text


class _ReadOnly(InMemoryProvider):
    async def capabilities(self) -> Capabilities:
        caps = await super().capabilities()
        return caps.model_copy(update={"verbs": ["get", "list", "search"]})


async def test_undeclared_verb_is_unsupported_capability(
    asgi: Callable[..., Any], app_factory: Callable[..., Any]
) -> None:
    async with asgi(app_factory(_ReadOnly())) as http:
        response = await http.post("/memories", json={"content": "x", "user_id": "u1"})
    assert (response.status_code, _error(response)["code"]) == (400, "unsupported_capability")


async def test_content_over_the_declared_limit_is_invalid(client: httpx.AsyncClient) -> None:
    limit = (await client.get("/capabilities")).json()["features"]["max_content_length"]
    response = await client.post("/memories", json={"content": "x" * (limit + 1), "user_id": "u"})
    assert (response.status_code, _error(response)["field"]) == (400, "content")


@pytest.mark.parametrize("headers", [{}, {"content-type": "text/plain"}])
async def test_json_without_a_json_content_type_says_which_header_to_send(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = b'{"content": "x", "user_id": "u1"}'
    response = await client.post("/memories", content=body, headers=headers)
    error = _error(response)
    assert (response.status_code, error["field"]) == (400, "body")
    assert "Content-Type: application/json" in error["message"]
