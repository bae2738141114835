"""openmem provider for mem0: OSS ``mem0.Memory`` on bounded worker threads, or the platform.

Registered as ``mem0`` under the ``openmem.providers`` entry point group::

    async with AsyncMemory("mem0", data_dir="/var/lib/app") as mem:      # embedded qdrant
        ...
    AsyncMemory("mem0", vector_store="pgvector", url="postgresql://...")
    AsyncMemory("mem0", mode="platform", api_key="m0-...")
"""

from openmem_mem0._options import Mem0Options
from openmem_mem0._provider import Mem0Provider

__all__ = ["Mem0Options", "Mem0Provider"]
