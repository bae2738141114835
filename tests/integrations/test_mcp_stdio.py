"""``openmem mcp`` over stdio, driven by the ``mcp`` SDK's own client, as a host drives it.

The server runs as a subprocess exactly as the README's Claude Desktop / Cursor
configuration launches it; the tools are listed with their schemas and called in turn.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

README = Path(__file__).resolve().parents[2] / "README.md"
TOOLS = {
    "add_memory",
    "search_memories",
    "get_context",
    "list_memories",
    "update_memory",
    "delete_memory",
}


def readme_server_config() -> dict[str, Any]:
    """The ``mcpServers`` JSON block of the README, parsed as a host parses it."""
    section = README.read_text(encoding="utf-8").split("## MCP", 1)[1]
    block = re.search(r"```json\n(.*?)```", section, re.S)
    assert block, "the README's MCP section has no json block"
    config: dict[str, Any] = json.loads(block.group(1))
    return config["mcpServers"]["openmem"]  # type: ignore[no-any-return]


def text_of(result: Any) -> Any:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


def launch(
    config: dict[str, Any], tmp_path: Path, postgres_url: str, namespace: str
) -> StdioServerParameters:
    """The README's command and arguments as written; only where the database is changes
    (the test's PostgreSQL, a namespace of its own, a private data dir, the fast embedder)."""
    command = shutil.which(config["command"], path=str(Path(sys.executable).parent))
    assert command is not None, f"{config['command']} is not installed next to {sys.executable}"
    env = {
        **config.get("env", {}),
        "OPENMEM_URL": postgres_url,
        "OPENMEM_NAMESPACE": namespace,
        "OPENMEM_DATA_DIR": str(tmp_path),
        "OPENMEM_EMBEDDER": "hashing",
    }
    return StdioServerParameters(command=command, args=config["args"], env=env)


async def test_the_readme_configuration_serves_every_tool_over_stdio(
    tmp_path: Path, postgres_url: str, pg_namespace: str
) -> None:
    config = readme_server_config()
    assert config["args"][:3] == ["mcp", "--provider", "postgres"]
    server = launch(config, tmp_path, postgres_url, pg_namespace)
    async with Client(server, read_timeout_seconds=60) as client:
        listed = await client.list_tools()
        by_name = {t.name: t for t in listed.tools}
        assert set(by_name) == TOOLS
        for tool in listed.tools:
            assert tool.description is not None, tool.name
            assert len(tool.description) > 40, tool.name
            properties = tool.input_schema["properties"]
            assert "user_id" not in properties, f"{tool.name} lets the model pick the user"
            assert "ctx" not in properties
        assert by_name["add_memory"].input_schema["required"] == ["content"]

        added = text_of(
            await client.call_tool(
                "add_memory", {"content": "prefers dark mode", "scope": "ui", "key": "theme"}
            )
        )
        assert added["user_id"] == config["env"]["OPENMEM_MCP_USER_ID"]
        assert added["key"] == "theme"
        hits = text_of(await client.call_tool("search_memories", {"query": "dark mode"}))
        assert [h["memory"]["id"] for h in hits] == [added["id"]]
        block = text_of(
            await client.call_tool("get_context", {"query": "dark mode", "token_budget": 50})
        )
        assert f"[{added['id']}]" in block["text"]
        assert block["token_count"] <= 50
        updated = text_of(
            await client.call_tool(
                "update_memory", {"id": added["id"], "content": "prefers light mode"}
            )
        )
        assert updated["content"] == "prefers light mode"
        page = text_of(await client.call_tool("list_memories", {"scope": "ui"}))
        assert [r["content"] for r in page["items"]] == ["prefers light mode"]
        assert text_of(await client.call_tool("delete_memory", {"id": added["id"]})) == {
            "deleted": added["id"]
        }
        missing = await client.call_tool("delete_memory", {"id": added["id"]})
        assert missing.is_error
        assert "not_found" in missing.content[0].text
        bad = await client.call_tool("add_memory", {"content": "   "})
        assert bad.is_error
        assert "invalid_request" in bad.content[0].text


def test_stdio_without_a_user_is_a_usage_error() -> None:
    from click.testing import CliRunner

    from openmem.integrations.mcp.command import mcp

    result = CliRunner().invoke(mcp, ["--provider", "inmemory"], env={"OPENMEM_MCP_USER_ID": ""})
    assert result.exit_code == 2
    assert "--user-id" in result.output


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3"])
def test_http_without_auth_is_refused_off_loopback(host: str) -> None:
    from click.testing import CliRunner

    from openmem.integrations.mcp.command import mcp

    args = ["--provider", "inmemory", "--transport", "http", "--no-auth", "--host", host]
    result = CliRunner().invoke(mcp, args)
    assert result.exit_code == 2
    assert "loopback" in result.output
