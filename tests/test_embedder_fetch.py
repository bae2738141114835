"""Fetching the default model once, verified by checksum, from a local HTTP server.

Nothing can be fetched from the internet here, so a local server plays the model's host (or
the mirror named by ``OPENMEM_MODEL_URL``), serving files from a temporary folder.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import shutil
import sys
import threading
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from openmem.embedders import model_files
from openmem.embedders.model_fetch import MINILM, MODEL_URL_ENV, RemoteModel, fetch_model
from openmem.embedders.model_files import MODEL_CACHE_ENV, locate_encoder, packaged_minilm
from openmem.embedders.onnx import OnnxEmbedder
from openmem.errors import ConfigurationError


class _Served:
    def __init__(self, root: Path, url: str, requests: list[str]) -> None:
        self.root, self.url, self.requests = root, url, requests


@pytest.fixture
def served(tmp_path: Path) -> Iterator[_Served]:
    """A folder served over HTTP on an ephemeral loopback port, with a log of the paths asked."""
    root = tmp_path / "served"
    root.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield _Served(root, f"http://127.0.0.1:{server.server_address[1]}/model", requests)
    finally:
        server.shutdown()
        server.server_close()


def _publish(served: _Served, files: dict[str, bytes]) -> RemoteModel:
    (served.root / "model").mkdir(exist_ok=True)
    for name, content in files.items():
        (served.root / "model" / name).write_bytes(content)
    digests = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
    return RemoteModel(name="tiny", base_url=served.url, files=digests)


def test_the_files_are_fetched_once_each_verified(served: _Served, tmp_path: Path) -> None:
    files = {"config.json": b'{"hidden_size": 4}', "model.safetensors": os.urandom(300_000)}
    model = _publish(served, files)
    target = tmp_path / "cache" / "tiny"
    assert fetch_model(model, target) == target
    assert {p.name: p.read_bytes() for p in target.iterdir()} == files
    assert sorted(served.requests) == ["/model/config.json", "/model/model.safetensors"]
    fetch_model(model, target)
    assert len(served.requests) == 2  # complete: nothing fetched again


def test_only_the_missing_files_are_fetched(served: _Served, tmp_path: Path) -> None:
    model = _publish(served, {"a.json": b"{}", "b.bin": b"weights"})
    target = tmp_path / "tiny"
    fetch_model(model, target)
    (target / "b.bin").unlink()
    fetch_model(model, target)
    assert served.requests[2:] == ["/model/b.bin"]


def test_a_file_that_does_not_match_its_checksum_is_never_kept(
    served: _Served, tmp_path: Path
) -> None:
    model = _publish(served, {"model.safetensors": b"the real weights"})
    (served.root / "model" / "model.safetensors").write_bytes(b"something else")
    target = tmp_path / "tiny"
    with pytest.raises(ConfigurationError, match="expected content"):
        fetch_model(model, target)
    assert list(target.iterdir()) == []  # neither the file nor a partial one


def test_an_unreachable_host_is_a_configuration_error_that_names_the_ways_out(
    served: _Served, tmp_path: Path
) -> None:
    model = _publish(served, {"config.json": b"{}"})
    with pytest.raises(ConfigurationError) as caught:
        fetch_model(model, tmp_path / "tiny", base_url=served.url + "/nowhere")
    assert MODEL_URL_ENV in str(caught.value)
    assert "embedder_model" in str(caught.value)
    assert not any((tmp_path / "tiny").iterdir())


def test_a_progress_bar_is_drawn_on_a_terminal(
    served: _Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    model = _publish(served, {"model.safetensors": os.urandom(200_000)})
    fetch_model(model, tmp_path / "tiny")
    assert "fetching model.safetensors" in terminal.getvalue()


def test_the_pinned_checksums_are_those_of_the_packaged_model() -> None:
    packaged = packaged_minilm()
    for name, digest in MINILM.files.items():
        assert hashlib.sha256((packaged / name).read_bytes()).hexdigest() == digest, name


async def test_without_the_package_the_default_model_is_fetched_once_and_embeds(
    served: _Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = packaged_minilm()
    existing_export = locate_encoder(None).onnx
    (expected,) = await OnnxEmbedder().embed(["Ada loves espresso"])
    (served.root / "model").mkdir()
    for name in MINILM.files:
        os.symlink(packaged / name, served.root / "model" / name)
    cache = tmp_path / "cache"
    monkeypatch.setenv(MODEL_CACHE_ENV, str(cache))
    monkeypatch.setenv(MODEL_URL_ENV, served.url)

    def not_installed() -> Path:
        raise ConfigurationError("not installed")

    def seed_export(source: Path, target: Path, layers: Sequence[int] | None = None) -> None:
        # The export of these very weights is built already (make bootstrap): this test pays
        # for the fetch and the checksums, not for a second export (tested with a tiny BERT).
        assert layers == (0, 4, 5)
        shutil.copyfile(existing_export, target)

    monkeypatch.setattr(model_files, "packaged_minilm", not_installed)
    monkeypatch.setattr(model_files, "export_sentence_encoder", seed_export)
    (vector,) = await OnnxEmbedder().embed(["Ada loves espresso"])
    assert sorted(served.requests) == sorted(f"/model/{name}" for name in MINILM.files)
    assert (cache / MINILM.name / "model.safetensors").is_file()
    assert float(np.dot(vector, expected)) > 0.99999
    locate_encoder(None)
    assert len(served.requests) == len(MINILM.files)  # fetched once
