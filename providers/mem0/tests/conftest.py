"""Fixtures shared by the mem0 adapter's tests."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from openmem_mem0 import Mem0Provider


@pytest.fixture
async def pgvector_provider(
    request: pytest.FixtureRequest, postgres_url: str, tmp_path: Path
) -> AsyncIterator[Mem0Provider]:
    """openmem-mem0 on pgvector in a fresh collection; the test module's ``PGVECTOR_DIM``
    (default 64) sets the embedder's dimension."""
    p = Mem0Provider(
        embedder="hashing",
        vector_store="pgvector",
        url=postgres_url,
        collection=f"m0_{secrets.token_hex(4)}",
        data_dir=str(tmp_path),
        embedder_dim=getattr(request.module, "PGVECTOR_DIM", 64),
    )
    await asyncio.wait_for(p.open(), 60)
    yield p
    await asyncio.wait_for(p.close(), 30)
