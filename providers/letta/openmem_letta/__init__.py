"""openmem provider for Letta archival memory, on ``letta-client``'s ``AsyncLetta``.

Registered as ``letta`` under the ``openmem.providers`` entry point group::

    async with AsyncMemory("letta", api_key="sk-let-...") as mem:            # Letta cloud
        ...
    AsyncMemory("letta", base_url="http://localhost:8283")                    # self-hosted
    AsyncMemory("letta", base_url="http://localhost:8283", client="sync")     # blocking client
"""

from openmem_letta._options import LettaOptions
from openmem_letta._provider import LettaProvider

__all__ = ["LettaOptions", "LettaProvider"]
