"""powermem behind openmem, for real and offline: SQLite and the hashing embedder.

The promises every translation adapter keeps are ``TranslatingProviderTests``; what is
powermem's own is below them.
"""

from __future__ import annotations

from openmem_powermem import PowermemProvider

from openmem.translation.testing import ALICE, TranslatingProviderTests, item


class TestPowermem(TranslatingProviderTests):
    provider_class = PowermemProvider
    extension = "x-powermem"
    unknown_ids = ("123", "99999999999999999999999", "-1", "not-a-number", "mem_x'; drop")

    async def test_ids_are_powermem_integers_as_decimal_strings(
        self, provider: PowermemProvider
    ) -> None:
        added = await provider.add(ALICE, item("numbered"))
        assert added.id.isdigit()
