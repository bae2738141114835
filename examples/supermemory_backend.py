"""Supermemory as the memory backend: the same verbs, chosen by configuration alone.

Run against Supermemory, or (offline) the local contract fake:

    SUPERMEMORY_API_KEY=sm_... uv run python examples/supermemory_backend.py
    uv run python examples/supermemory_backend.py --fake

The same choice without code: a TOML file (``provider = "supermemory"``, ``api_key``,
``base_url``) read by ``AsyncMemory.from_config``, or ``OPENMEM_PROVIDER=supermemory
OPENMEM_API_KEY=...`` read by ``AsyncMemory.from_env()``. Supermemory ingests in the
background: ``add`` answers ``status="queued"`` and ``wait_for_ingest`` waits until the
memory is searchable.
"""

import argparse
import asyncio
import contextlib
import os
from collections.abc import Iterator

from openmem import AsyncMemory


@contextlib.contextmanager
def supermemory_server(args: argparse.Namespace) -> Iterator[tuple[str | None, str | None]]:
    """The base URL and key to use: the local contract fake with --fake, else the flags."""
    if not args.fake:
        yield args.base_url, args.api_key or os.environ.get("SUPERMEMORY_API_KEY")
        return
    from openmem_supermemory.fake import SupermemoryFake

    fake = SupermemoryFake()
    with fake.serve() as base_url:
        yield base_url, fake.api_key


async def main(base_url: str | None, api_key: str | None) -> None:
    async with AsyncMemory(provider="supermemory", base_url=base_url, api_key=api_key) as mem:
        first = await mem.add("Prefers dark mode in every editor", user_id="ada", scope="ui")
        second = await mem.add("Writes Python with type hints", user_id="ada", tags=["coding"])
        print(f"added: {first.status}, {second.status}")
        await mem.wait_for_ingest([first.id, second.id], user_id="ada", timeout=120)
        for hit in await mem.search("dark editor theme", "ada", limit=2):
            print(f"{hit.score:.2f}  [{hit.memory.scope}] {hit.memory.content}")
        page = await mem.list("ada", tags=["coding"])
        print(f"tagged coding: {[r.content for r in page.items]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url")
    parser.add_argument("--api-key")
    parser.add_argument("--fake", action="store_true", help="run on the local contract fake")
    arguments = parser.parse_args()
    with supermemory_server(arguments) as (url, key):
        asyncio.run(main(url, key))
