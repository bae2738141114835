"""The part every backend over a mem0-style ``Memory`` object shares (mem0 OSS, powermem).

Both SDKs expose a synchronous ``Memory`` whose ``add(content, user_id=, metadata=, infer=)``
answers ``{"results": [...]}``; a backend holds one, opened on a worker thread.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = ["AddInput", "MemoryObjectBackend"]

AddInput = str | list[dict[str, str]]
"""What an SDK's ``add`` takes: one text, or a conversation of ``{role, content}`` messages."""


class MemoryObjectBackend:
    """Holds the SDK's ``Memory`` (``self._memory``, set by ``open``) and adds through it."""

    sdk: ClassVar[str] = "sdk"
    """The SDK's name, for the error raised before ``open``."""

    _memory: Any = None

    @property
    def memory(self) -> Any:
        """The SDK's ``Memory`` (for tests and advanced use); ``RuntimeError`` before open."""
        if self._memory is None:
            raise RuntimeError(f"the {self.sdk} backend is not open")
        return self._memory

    def create(
        self, user: str, content: AddInput, metadata: dict[str, Any], infer: bool
    ) -> list[dict[str, Any]]:
        """Store ``content`` (a text or a conversation) for ``user``; the SDK's add results."""
        result = self.memory.add(content, user_id=user, metadata=metadata, infer=infer)
        return list(result.get("results", []))
