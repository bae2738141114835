"""The embedder contract: texts in, one unit-length vector per text out."""

from __future__ import annotations

import abc
from collections.abc import Sequence

__all__ = ["Embedder"]


class Embedder(abc.ABC):
    """Turns texts into vectors of ``dim`` floats, all from one ``model``.

    Every stored vector records ``model``; a provider never compares vectors of two models.
    ``embed`` must not block the event loop for more than a trivial moment: CPU-heavy
    implementations run on worker threads, network ones use an async client.
    """

    model: str
    dim: int

    @abc.abstractmethod
    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order; cancellable."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release clients and threads; idempotent."""
