"""Quickstart (sync): the same verbs without await, for scripts and notebooks.

Run: uv run python examples/quickstart_sync.py
"""

from openmem import Memory

with Memory(provider="inmemory", app="quickstart-sync") as mem:
    first = mem.add("Prefers tea over coffee", user_id="grace", scope="food/drinks")
    mem.add("Runs every morning at 6", user_id="grace", scope="habits")
    mem.update(first.id, user_id="grace", tags=["preference"])

    for hit in mem.search("tea or coffee?", "grace", limit=1):
        print(f"{hit.score:.2f}  {hit.memory.content}  tags={hit.memory.tags}")

    print(mem.context("morning routine", "grace", token_budget=40).text)
    print([entry.action for entry in mem.audit("grace")])
