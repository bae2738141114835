"""Quickstart (async): add, search, build a context and read the audit trail.

Run: uv run python examples/quickstart.py
Uses the in-process provider, so it needs nothing else; swap provider="postgres" (or set
OPENMEM_PROVIDER) and nothing else changes.
"""

import asyncio

from openmem import AsyncMemory


async def main() -> None:
    async with AsyncMemory(provider="inmemory", app="quickstart") as mem:
        await mem.add("Prefers dark mode in every editor", user_id="ada", scope="ui/editor")
        await mem.add("Writes Python with type hints", user_id="ada", scope="coding/python")
        await mem.add("Allergic to peanuts", user_id="ada", scope="health", tags=["important"])

        print("search 'dark editor theme':")
        for hit in await mem.search("dark editor theme", "ada", limit=2):
            print(f"  {hit.score:.2f}  [{hit.memory.scope}] {hit.memory.content}")

        block = await mem.context("what should I know when writing code?", "ada", token_budget=60)
        print(f"\ncontext ({block.token_count} of 60 tokens):\n{block.text}")

        print("\naudit trail (newest first):")
        for entry in await mem.audit("ada"):
            print(f"  {entry.timestamp:%H:%M:%S}  {entry.action:<8} {entry.memory_id or ''}")


if __name__ == "__main__":
    asyncio.run(main())
