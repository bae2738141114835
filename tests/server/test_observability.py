"""Access logs without bodies, user ids or secrets; Prometheus metrics."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
import pytest

AuthedServer = Any  # the `authed` fixture of conftest.py

_LINE = re.compile(r"^(GET|POST|PATCH|DELETE|PUT) (\S+) (\d{3}) \d+\.\dms req=[A-Za-z0-9._-]+$")


async def test_one_access_line_per_request_without_private_data(
    authed: AuthedServer, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {**authed.key(), "x-request-id": "req-42"}
    key = headers["authorization"].removeprefix("Bearer ")
    caplog.set_level(logging.INFO, logger="openmem.server.access")
    created = await authed.client.post(
        "/memories",
        json={"content": "my bank pin is 4321", "user_id": "alice@example.com"},
        headers=headers,
    )
    memory_id = created.json()["id"]
    await authed.client.get(f"/memories/{memory_id}?user_id=alice@example.com", headers=headers)
    await authed.client.delete("/users/alice@example.com/memories", headers=headers)
    await authed.client.get("/nowhere/alice@example.com")
    lines = [r.getMessage() for r in caplog.records if r.name == "openmem.server.access"]
    assert len(lines) == 4
    assert all(_LINE.match(line) for line in lines), lines
    joined = "\n".join(lines)
    for secret in ("alice", "4321", key, key.split("_")[1], memory_id):
        assert secret not in joined
    assert lines[0].startswith("POST /memories 201 ")
    assert lines[1].startswith("GET /memories/{memory_id} 200 ")
    assert lines[2].startswith("DELETE /users/{user_id}/memories 200 ")
    assert lines[3].startswith("GET - 404 ")
    assert lines[0].endswith("req=req-42")


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/memories?user_id=u1")
    await client.get("/memories?user_id=u1&limit=0")
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'openmem_http_requests_total{method="GET",route="/memories",status="200"} 1.0' in text
    assert 'openmem_http_requests_total{method="GET",route="/memories",status="400"} 1.0' in text
    assert "openmem_http_request_duration_seconds_bucket" in text
    assert "openmem_http_requests_in_flight" in text
    assert 'openmem_errors_total{code="invalid_request"} 1.0' in text
    assert "u1" not in text


async def test_framework_routes_are_logged_by_their_path(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="openmem.server.access")
    await client.get("/docs")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "openmem.server.access"]
    assert line.startswith("GET /docs 200 ")
