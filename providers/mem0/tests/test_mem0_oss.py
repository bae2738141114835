"""mem0 OSS behind openmem, for real and offline: embedded qdrant and the hashing embedder.

The promises every translation adapter keeps are ``TranslatingProviderTests``; what is mem0's
own (its change history) is below them.
"""

from __future__ import annotations

import pytest
from openmem_mem0 import Mem0Provider

from openmem.errors import NotFoundError
from openmem.models import MemoryPatch
from openmem.translation.testing import ALICE, BOB, TranslatingProviderTests, item


class TestMem0Oss(TranslatingProviderTests):
    provider_class = Mem0Provider
    extension = "x-mem0"
    unknown_ids = ("00000000-0000-0000-0000-000000000000", "not-a-uuid", "mem_x'; drop")

    async def test_history_is_owner_only(self, provider: Mem0Provider) -> None:
        added = await provider.add(ALICE, item("h1"))
        await provider.update(ALICE, added.id, MemoryPatch(content="h2"))
        events = [e["event"] for e in await provider.history(ALICE, added.id)]
        assert events == ["ADD", "UPDATE"]
        with pytest.raises(NotFoundError):
            await provider.history(BOB, added.id)
