"""The whole openmem conformance suite against the notes provider."""

from __future__ import annotations

import pytest
from openmem_conformance import ProviderConformance
from openmem_notes import NotesProvider


class TestNotesConformance(ProviderConformance):
    """Every standard test; OPTIONAL ones skip, since notes declares none of them."""

    @pytest.fixture
    def provider(self) -> NotesProvider:
        """A fresh, empty provider, not opened: the suite opens and closes it."""
        return NotesProvider()
