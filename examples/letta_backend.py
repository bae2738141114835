"""Letta as the memory backend: the same verbs, chosen by configuration alone.

Run against Letta cloud, a self-hosted Letta server, or (offline) the local contract fake:

    LETTA_API_KEY=sk-let-... uv run python examples/letta_backend.py
    uv run python examples/letta_backend.py --base-url http://localhost:8283 --api-key KEY
    uv run python examples/letta_backend.py --fake

The same choice without code: a TOML file (``provider = "letta"``, ``api_key``, ``base_url``)
read by ``AsyncMemory.from_config``, or ``OPENMEM_PROVIDER=letta OPENMEM_API_KEY=...
OPENMEM_BASE_URL=...`` read by ``AsyncMemory.from_env()``. Each (namespace, user) gets one
Letta agent, found again by name after a restart.
"""

import argparse
import asyncio
import contextlib
import os
from collections.abc import Iterator

from openmem import AsyncMemory


@contextlib.contextmanager
def letta_server(args: argparse.Namespace) -> Iterator[tuple[str | None, str | None]]:
    """The base URL and key to use: the local contract fake with --fake, else the flags."""
    if not args.fake:
        yield args.base_url, args.api_key or os.environ.get("LETTA_API_KEY")
        return
    from openmem_letta.fake import LettaFake

    fake = LettaFake()
    with fake.serve() as base_url:
        yield base_url, fake.api_key


async def main(base_url: str | None, api_key: str | None) -> None:
    async with AsyncMemory(provider="letta", base_url=base_url, api_key=api_key) as mem:
        first = await mem.add("Prefers dark mode in every editor", user_id="ada", scope="ui")
        await mem.add("Writes Python with type hints", user_id="ada", tags=["coding"])
        for hit in await mem.search("dark editor theme", "ada", limit=2):
            print(f"{hit.score:.2f}  [{hit.memory.scope}] {hit.memory.content}")
        updated = await mem.update(first.id, user_id="ada", content="Prefers light mode now")
        print(f"updated, same id: {updated.id == first.id}: {updated.content}")
        page = await mem.list("ada", tags=["coding"])
        print(f"tagged coding: {[r.content for r in page.items]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url")
    parser.add_argument("--api-key")
    parser.add_argument("--fake", action="store_true", help="run on the local contract fake")
    arguments = parser.parse_args()
    with letta_server(arguments) as (url, key):
        asyncio.run(main(url, key))
