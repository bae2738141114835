"""``openmem mcp --transport http``: streamable HTTP behind the API keys of ``openmem serve``.

A real subprocess on an ephemeral port, reached with the ``mcp`` SDK's own streamable HTTP
client; the key decides the user, its verbs and its scopes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from openmem.server.keys import KeyStore
from tests.server.conftest import free_port


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, str]:
    """API keys in the key store, made before the server starts (it reads the store then)."""
    store = KeyStore(tmp_path / "keys.json")
    return {
        "path": str(store.path),
        "alice": store.create(namespace="default", users=["alice"])[0],
        "bob": store.create(namespace="default", users=["bob"])[0],
        "reader": store.create(namespace="default", users=["carol"], verbs=["read"])[0],
        "work": store.create(namespace="default", users=["carol"], scopes=["work"])[0],
        "elsewhere": store.create(namespace="other", users=["alice"])[0],
    }


@pytest.fixture
def mcp_url(tmp_path: Path, keys: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "openmem.cli", "mcp", "--provider", "inmemory"),
            *("--transport", "http", "--port", str(port), "--keys-path", keys["path"]),
        ],
        env={**os.environ, "OPENMEM_DATA_DIR": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60  # a loaded 2-core machine starts slowly
        while True:
            try:
                # Any HTTP answer will do: the server is up once it answers at all.
                httpx.post(f"http://127.0.0.1:{port}/mcp", json={}, timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "openmem mcp did not start in 60 s"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=30)


def client(url: str, key: str | None) -> Client:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    http = httpx2.AsyncClient(headers=headers, timeout=60)
    return Client(streamable_http_client(url, http_client=http), read_timeout_seconds=60)


def answer(result: Any) -> Any:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


async def test_a_key_bound_to_one_user_acts_for_that_user(
    mcp_url: str, keys: dict[str, str]
) -> None:
    async with client(mcp_url, keys["alice"]) as mcp:
        added = answer(await mcp.call_tool("add_memory", {"content": "likes green tea"}))
        assert added["user_id"] == "alice"
        hits = answer(await mcp.call_tool("search_memories", {"query": "green tea"}))
        assert [h["memory"]["id"] for h in hits] == [added["id"]]
    async with client(mcp_url, keys["bob"]) as mcp:
        assert answer(await mcp.call_tool("search_memories", {"query": "green tea"})) == []
        other = await mcp.call_tool("delete_memory", {"id": added["id"]})
        assert other.is_error
        assert "not_found" in other.content[0].text


async def test_calls_without_a_valid_key_are_refused(mcp_url: str, keys: dict[str, str]) -> None:
    for key in (None, "omk_not_a_key", keys["elsewhere"]):
        async with client(mcp_url, key) as mcp:
            result = await mcp.call_tool("list_memories", {})
            assert result.is_error
            assert "unauthorized" in result.content[0].text


async def test_the_keys_verbs_and_scopes_bind_the_tools(mcp_url: str, keys: dict[str, str]) -> None:
    async with client(mcp_url, keys["reader"]) as mcp:
        refused = await mcp.call_tool("add_memory", {"content": "x"})
        assert refused.is_error
        assert "scope_denied" in refused.content[0].text
        assert answer(await mcp.call_tool("list_memories", {}))["items"] == []
    async with client(mcp_url, keys["work"]) as mcp:
        outside = await mcp.call_tool("add_memory", {"content": "x", "scope": "home"})
        assert outside.is_error
        assert "scope_denied" in outside.content[0].text
        inside = answer(await mcp.call_tool("add_memory", {"content": "x", "scope": "work/a"}))
        assert inside["scope"] == "work/a"
