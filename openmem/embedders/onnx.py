"""The default embedder: a BERT sentence encoder on ONNX Runtime, semantic, local, no torch.

The model is, by default, three of the six layers of all-MiniLM-L6-v2 with 8-bit weights
(``openmem/all-MiniLM-L6-v2-layers-0-4-5-int8``, about 3.5x MiniLM's throughput), the same
layers in float32 (``openmem/all-MiniLM-L6-v2-layers-0-4-5``) or the whole
all-MiniLM-L6-v2 by name, or any BERT checkpoint or export from a directory (``model_files``).
Texts are tokenised by ``tokenizers`` (the model's own ``tokenizer.json``) and encoded by an
ONNX export of the model (see ``onnx_export``) whose vectors equal sentence-transformers' for
the same checkpoint, so the whole MiniLM records sentence-transformers' model name. Loading
happens on a worker thread at the first ``embed``; at most ``workers`` calls encode at once
(an anyio capacity limiter, never the loop's default executor), each splitting its batch over
``threads`` cores (default 2). One loaded encoder is shared by every embedder of the process
that uses the same files.

    >>> embedder = OnnxEmbedder()                   # the default, derived once from MiniLM
    >>> embedder = OnnxEmbedder(model="sentence-transformers/all-MiniLM-L6-v2")  # the whole
    >>> embedder = OnnxEmbedder(model="/models/minilm")   # offline from a directory
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import numpy as np

from openmem.embedders.base import Embedder
from openmem.embedders.model_files import (
    DEFAULT_DIM,
    DEFAULT_MODEL,
    NAMED_MODELS,
    EncoderFiles,
    locate_encoder,
    model_dimension,
)
from openmem.errors import ConfigurationError, InvalidRequestError
from openmem.opening import opening

__all__ = ["OnnxEmbedder"]

_RUNTIME_LIBRARIES = ("onnxruntime", "onnx", "tokenizers", "safetensors")
"""Held back while the model loads (``openmem.opening``)."""
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2


class OnnxEmbedder(Embedder):
    """A BERT sentence encoder on ONNX Runtime (default: layers 0, 4, 5 of all-MiniLM-L6-v2,
    8-bit weights).

    ``model``: ``None`` (the default model), a name of ``NAMED_MODELS``, or a directory.
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        workers: int = 1,
        batch_size: int = 64,
        threads: int | None = None,
    ) -> None:
        self._model_path = model
        if model is None or model in NAMED_MODELS:
            # Packaged or fetched once at the first embed: nothing is read here.
            self.model, self.dim = model or DEFAULT_MODEL, DEFAULT_DIM
        else:
            directory = Path(model).expanduser()
            if not directory.is_dir():
                raise ConfigurationError(f"embedding model directory not found: {directory}")
            self.model, self.dim = directory.name, model_dimension(directory)
        self._limiter = anyio.CapacityLimiter(max(1, workers))
        self._batch_size = max(1, batch_size)
        self._threads = threads or min(2, os.cpu_count() or 1)
        self._encoder: _Encoder | None = None

    def load_sync(self) -> None:
        """Locate (export once if needed) and load the model; blocking, idempotent."""
        if self._encoder is None:
            with opening(f"the embedding model {self.model}", third_party=_RUNTIME_LIBRARIES):
                files = locate_encoder(self._model_path)
                self._encoder = _shared_encoder(files, self._threads)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return await anyio.to_thread.run_sync(
            self.embed_sync, list(texts), limiter=self._limiter, abandon_on_cancel=True
        )

    def embed_sync(self, texts: Sequence[str]) -> list[list[float]]:
        """The same vectors, computed on the calling thread (for thread-tier providers)."""
        if not texts:
            return []
        self.load_sync()
        assert self._encoder is not None
        vectors = self._encoder.encode(list(texts), self._batch_size)
        if vectors.shape[1] != self.dim:
            raise ConfigurationError(
                f"the model at {self._model_path} makes vectors of size {vectors.shape[1]}, "
                f"its config says {self.dim}"
            )
        rows: list[list[float]] = vectors.tolist()
        return rows

    async def aclose(self) -> None:
        # The loaded encoder is shared by the process; dropping the reference is enough.
        self._encoder = None


class _Encoder:
    """A tokenizer and an inference session; ``encode`` is safe from several threads.

    A batch is split into chunks of similar length that run side by side on ``threads``
    threads of the encoder's own pool, each chunk on one core: ONNX Runtime's intra-op
    threads waste about 15% of the CPU on these small matrices and stall at every operator
    when another process holds a core, while independent chunks do neither.
    """

    def __init__(self, files: EncoderFiles, threads: int) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(files.tokenizer))
        # The shipped tokenizer.json pads every text to 128 tokens; pad to the batch instead.
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(files.onnx), options, providers=["CPUExecutionProvider"]
        )
        names = {output.name for output in self._session.get_outputs()}
        if "sentence_embedding" not in names:
            raise ConfigurationError(
                f"{files.onnx} is not an openmem sentence-encoder export "
                "(no sentence_embedding output)"
            )
        self._threads = max(1, threads)
        self._pool = (
            ThreadPoolExecutor(self._threads, thread_name_prefix="openmem-onnx")
            if self._threads > 1
            else None
        )

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray[Any, Any]:
        for text in texts:
            if not text.isascii():
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    # The tokenizer would fail with a TypeError that names nothing useful.
                    raise InvalidRequestError(
                        "text must be valid Unicode (no lone surrogates)", field="content"
                    ) from None
        encodings = self._tokenizer.encode_batch(texts)
        lengths = [len(encoding.ids) for encoding in encodings]
        # Chunks of similar length waste little on padding; the order is restored below.
        # Even a small batch is split so that every thread has a share.
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        size = max(1, min(batch_size, -(-len(order) // self._threads)))
        chunks = [order[start : start + size] for start in range(0, len(order), size)]

        def run(chunk: list[int]) -> np.ndarray[Any, Any]:
            width = max(lengths[i] for i in chunk)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, index in enumerate(chunk):
                ids[row, : lengths[index]] = encodings[index].ids
                mask[row, : lengths[index]] = 1
            (vectors,) = self._session.run(
                ["sentence_embedding"], {"input_ids": ids, "attention_mask": mask}
            )
            return np.asarray(vectors, dtype=np.float32)

        if self._pool is None or len(chunks) == 1:
            results = [run(chunk) for chunk in chunks]
        else:
            results = list(self._pool.map(run, chunks))
        out = np.empty((len(texts), results[0].shape[1]), dtype=np.float32)
        for chunk, vectors in zip(chunks, results, strict=True):
            out[chunk] = vectors
        return out


_ENCODERS: dict[tuple[Path, int], _Encoder] = {}
_ENCODERS_LOCK = threading.Lock()


def _shared_encoder(files: EncoderFiles, threads: int) -> _Encoder:
    # One session per model file and process: a test session, a server with several
    # providers, or many AsyncMemory instances load the weights once.
    key = (files.onnx.resolve(), threads)
    with _ENCODERS_LOCK:
        encoder = _ENCODERS.get(key)
        if encoder is None:
            encoder = _ENCODERS[key] = _Encoder(files, threads)
        return encoder
