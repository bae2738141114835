"""Embedders: ``onnx`` (the default: three layers of all-MiniLM-L6-v2, 8-bit, on ONNX Runtime,
semantic, no torch; ``embedder_model="sentence-transformers/all-MiniLM-L6-v2"`` the whole model),
``openai`` (any OpenAI-compatible endpoint), ``local`` (sentence-transformers, for users who
already have torch) and ``hashing`` (lexical only: word overlap, no meaning; the deterministic
test embedder and an explicit choice, never the default).

Providers that embed take the flat ``EmbedderOptions`` fields (so ``OPENMEM_EMBEDDER=openai``
works from the environment) and call ``build_embedder()``. From Python, ``embedder`` also takes
an ``Embedder`` instance (your own model, or the conformance suite's controlled geometry)::

    AsyncMemory(provider="postgres", embedder=MyEmbedder())
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, PlainValidator, SecretStr

from openmem.embedders.base import Embedder
from openmem.embedders.hashing import HashingEmbedder
from openmem.provider import ProviderOptions

__all__ = [
    "Embedder",
    "EmbedderChoice",
    "EmbedderName",
    "EmbedderOptions",
    "HashingEmbedder",
    "build_embedder",
]

EmbedderName = Literal["onnx", "hashing", "openai", "local"]


def _embedder_choice(value: object) -> EmbedderName | Embedder:
    # One error naming the option, not one per member of the union.
    if isinstance(value, Embedder) or value in get_args(EmbedderName):
        return value  # type: ignore[return-value]
    raise ValueError(
        f"Input should be {', '.join(map(repr, get_args(EmbedderName)))} or an Embedder instance"
    )


EmbedderChoice = Annotated[EmbedderName | Embedder, PlainValidator(_embedder_choice)]
"""A built-in embedder by name, or an ``Embedder`` instance used as it is."""


class EmbedderOptions(ProviderOptions):
    """Embedder settings shared by every provider that computes its own vectors."""

    embedder: EmbedderChoice = "onnx"
    """``onnx`` (default, semantic MiniLM), ``openai``, ``local`` or ``hashing`` (lexical), or
    an ``Embedder`` instance (Python only): the provider uses it as it is, ignores the other
    ``embedder_*`` options, and closes it when the provider closes."""
    embedder_model: str | None = None
    """Model name: e.g. ``text-embedding-3-small`` (openai); for ``onnx``
    ``openmem/all-MiniLM-L6-v2-layers-0-4-5-int8`` (the default),
    ``openmem/all-MiniLM-L6-v2-layers-0-4-5`` (the same layers in float32, about 1.9x slower) or
    ``sentence-transformers/all-MiniLM-L6-v2`` (the whole model, about 3.5x slower), else a local
    model directory (``tokenizer.json`` with ``model.onnx`` or ``model.safetensors``)."""
    embedder_dim: int | None = Field(default=None, ge=1, le=16_000)
    """Vector size; required for ``openai`` models whose size is not known, else inferred.
    At most 16,000 (pgvector's limit for a stored vector)."""
    embedder_url: str | None = None
    """Base URL of an OpenAI-compatible endpoint (``https://api.openai.com/v1`` by default)."""
    embedder_api_key: SecretStr | None = None
    embedder_batch_size: int = Field(default=64, ge=1, le=100_000)
    embedder_workers: int = Field(default=1, ge=1, le=256)
    """Worker threads for the ``onnx`` and ``local`` embedders."""

    def build_embedder(self) -> Embedder:
        """The embedder these options describe (no I/O until the first ``embed``)."""
        return build_embedder(self)


def build_embedder(options: EmbedderOptions) -> Embedder:
    """Construct the configured embedder (an ``Embedder`` instance comes back as it is)."""
    if isinstance(options.embedder, Embedder):
        return options.embedder
    if options.embedder == "hashing":
        return HashingEmbedder(options.embedder_dim or 256)
    if options.embedder == "onnx":
        from openmem.embedders.onnx import OnnxEmbedder

        return OnnxEmbedder(
            model=options.embedder_model,
            workers=options.embedder_workers,
            batch_size=options.embedder_batch_size,
        )
    if options.embedder == "openai":
        from openmem.embedders.openai import OpenAIEmbedder

        return OpenAIEmbedder(
            model=options.embedder_model or "text-embedding-3-small",
            dim=options.embedder_dim,
            base_url=options.embedder_url,
            api_key=options.embedder_api_key,
            batch_size=options.embedder_batch_size,
        )
    from openmem.embedders.local import LocalEmbedder

    return LocalEmbedder(model=options.embedder_model, workers=options.embedder_workers)
