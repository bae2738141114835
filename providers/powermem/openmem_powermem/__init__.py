"""openmem provider for powermem: its SQLite store, offline, on bounded worker threads.

Registered as ``powermem`` under the ``openmem.providers`` entry point group::

    async with AsyncMemory("powermem", data_dir="/var/lib/app") as mem:
        ...
"""

from openmem_powermem._options import PowermemOptions
from openmem_powermem._provider import PowermemProvider

__all__ = ["PowermemOptions", "PowermemProvider"]
