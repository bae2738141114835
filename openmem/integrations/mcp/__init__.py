"""``openmem mcp``: openmem's verbs as MCP tools, over stdio or streamable HTTP.

Needs the ``mcp`` extra (``pip install "openmem-layer[mcp]"``). ``build_mcp_server`` turns an
``AsyncMemory`` into an ``mcp`` ``MCPServer`` with the tools ``add_memory``,
``search_memories``, ``get_context``, ``list_memories``, ``update_memory`` and
``delete_memory``; the user every tool acts for comes from configuration (stdio) or from the
API key (HTTP), never from the model.
"""

from openmem.integrations.mcp.tools import Identity, build_mcp_server

__all__ = ["Identity", "build_mcp_server"]
