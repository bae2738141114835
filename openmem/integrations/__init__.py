"""openmem where users already are: an MCP server (``openmem.integrations.mcp``)."""
