"""Input that once reached a 500: calendar edges with offsets, lone surrogates. Now 400."""

from __future__ import annotations

import httpx
import pytest

EDGE_DATES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]


@pytest.mark.parametrize("when", EDGE_DATES)
@pytest.mark.parametrize("path", ["/memories", "/audit"])
async def test_calendar_edges_in_a_query_are_400(
    client: httpx.AsyncClient, path: str, when: str
) -> None:
    response = await client.get(path, params={"user_id": "u1", "since": when})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("when", EDGE_DATES)
async def test_calendar_edges_in_a_body_and_a_batch_are_400(
    client: httpx.AsyncClient, when: str
) -> None:
    one = await client.post("/memories", json={"content": "x", "user_id": "u1", "valid_from": when})
    many = await client.post(
        "/memories:batch",
        json={"user_id": "u1", "items": [{"content": "x", "valid_to": when}]},
    )
    assert (one.status_code, many.status_code) == (400, 400), (one.text, many.text)


async def test_a_lone_surrogate_in_json_is_400(client: httpx.AsyncClient) -> None:
    body = b'{"content": "bad \\ud800 text", "user_id": "u1"}'
    response = await client.post(
        "/memories", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == "content"


@pytest.mark.parametrize(
    "source",
    [b'{"k": "\\ud800"}', b'{"k": NaN}', b'{"k": "a\\u0000b"}'],
    ids=["lone surrogate", "NaN", "NUL"],
)
async def test_the_source_extension_fields_are_json_only(
    client: httpx.AsyncClient, source: bytes
) -> None:
    """Found by the no-5xx property: these were stored, and no read of them could answer."""
    body = b'{"content": "x", "user_id": "u1", "source": ' + source + b"}"
    response = await client.post(
        "/memories", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == "source"
    listed = await client.get("/memories", params={"user_id": "u1"})
    assert listed.status_code == 200
    assert listed.json()["items"] == []
