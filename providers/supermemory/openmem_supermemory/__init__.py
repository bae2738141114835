"""openmem provider for Supermemory, on the ``supermemory`` package's ``AsyncSupermemory``.

Registered as ``supermemory`` under the ``openmem.providers`` entry point group::

    async with AsyncMemory("supermemory", api_key="sm_...") as mem:
        record = await mem.add("prefers dark mode", user_id="u1")   # status="queued"
        [stored] = await mem.wait_for_ingest([record.id], user_id="u1")
"""

from openmem_supermemory._options import SupermemoryOptions
from openmem_supermemory._provider import SupermemoryProvider

__all__ = ["SupermemoryOptions", "SupermemoryProvider"]
