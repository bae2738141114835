"""The default embedder: layers 0, 4, 5 of MiniLM with 8-bit weights on ONNX Runtime, semantic,
offline, no torch; the same layers in float32 and the whole MiniLM by name.

The packaged model is exported once per machine by ``make bootstrap``; the loaded encoder is
shared by the process, so these tests pay for one load.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from openmem.embedders import EmbedderOptions
from openmem.embedders.model_files import (
    DEFAULT_MODEL,
    LAYERS_MODEL,
    MINILM_MODEL,
    MODEL_CACHE_ENV,
    locate_encoder,
    packaged_minilm,
)
from openmem.embedders.onnx import OnnxEmbedder
from openmem.embedders.onnx_export import export_sentence_encoder
from openmem.errors import ConfigurationError


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b))


@pytest.fixture(scope="module")
def embedder() -> OnnxEmbedder:
    built = EmbedderOptions().build_embedder()
    assert isinstance(built, OnnxEmbedder)
    return built


@pytest.fixture(scope="module")
def float32_layers() -> OnnxEmbedder:
    built = EmbedderOptions(embedder_model=LAYERS_MODEL).build_embedder()
    assert isinstance(built, OnnxEmbedder)
    return built


@pytest.fixture(scope="module")
def minilm() -> OnnxEmbedder:
    built = EmbedderOptions(embedder_model=MINILM_MODEL).build_embedder()
    assert isinstance(built, OnnxEmbedder)
    return built


def test_the_default_embedder_is_three_layers_of_minilm_in_8_bits_on_onnx(
    embedder: OnnxEmbedder,
) -> None:
    assert EmbedderOptions().embedder == "onnx"
    assert (embedder.model, embedder.dim) == (DEFAULT_MODEL, 384)
    assert DEFAULT_MODEL == "openmem/all-MiniLM-L6-v2-layers-0-4-5-int8"
    manifest = json.loads((locate_encoder(None).onnx.parent / "manifest.json").read_text())
    assert (manifest["layers"], manifest["int8"]) == ([0, 4, 5], True)
    float32 = json.loads((locate_encoder(LAYERS_MODEL).onnx.parent / "manifest.json").read_text())
    assert (float32["layers"], float32.get("int8", False)) == ([0, 4, 5], False)


async def test_the_default_and_minilm_record_different_models_and_make_different_vectors(
    embedder: OnnxEmbedder, minilm: OnnxEmbedder
) -> None:
    """A store written by one must not be searched with the other: their names differ."""
    assert minilm.model == MINILM_MODEL != embedder.model
    (ours,) = await embedder.embed(["Ada loves espresso in the morning"])
    (whole,) = await minilm.embed(["Ada loves espresso in the morning"])
    assert cosine(ours, whole) < 0.99


@pytest.mark.parametrize("which", ["default", "minilm"])
async def test_a_question_finds_its_memory_without_a_shared_word(
    embedder: OnnxEmbedder, minilm: OnnxEmbedder, which: str
) -> None:
    chosen = embedder if which == "default" else minilm
    question, espresso, porto, tax = await chosen.embed(
        [
            "what beverage does she like?",
            "Ada loves espresso in the morning",
            "Ada moved to Porto last spring",
            "Ada files her tax return in April",
        ]
    )
    assert cosine(question, espresso) > max(cosine(question, porto), cosine(question, tax)) + 0.1


@pytest.mark.parametrize(("which", "closeness"), [("float32", 0.99999), ("default", 0.99)])
async def test_vectors_are_unit_length_in_input_order_and_batch_independent(
    embedder: OnnxEmbedder, float32_layers: OnnxEmbedder, which: str, closeness: float
) -> None:
    """Float32 vectors do not depend on the batch. The 8-bit default scales its activations
    per batch (dynamic quantisation), so a text's vector moves a little with its companions:
    cosine 0.991 at worst over the recall set's 2,000 memories, batched against alone."""
    chosen = embedder if which == "default" else float32_layers
    texts = ["short", "a much longer sentence that pads the others in its batch", "mid length"]
    together = await chosen.embed(texts)
    alone = [(await chosen.embed([t]))[0] for t in texts]
    for a, b in zip(together, alone, strict=True):
        assert math.isclose(float(np.linalg.norm(a)), 1.0, rel_tol=1e-5)
        assert cosine(a, b) > closeness
    assert await chosen.embed([]) == []


async def test_encoding_runs_on_a_worker_thread_not_the_event_loop(
    embedder: OnnxEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    original = embedder.embed_sync

    def recording(texts: list[str]) -> list[list[float]]:
        seen.append(threading.get_ident())
        return original(texts)

    monkeypatch.setattr(embedder, "embed_sync", recording)
    await embedder.embed(["hello"])
    assert seen
    assert seen[0] != threading.get_ident()


# Recorded from sentence-transformers 5 (torch, CPU) with the packaged all-MiniLM-L6-v2 for
# "Ada loves espresso in the morning": the first eight components and the three largest.
_REFERENCE_HEAD = [
    -0.044918,
    -0.017304,
    -0.002696,
    0.093923,
    0.039451,
    0.021134,
    0.102096,
    0.025266,
]
_REFERENCE_PEAKS = {260: -0.132505, 10: -0.138153, 186: 0.147601}


def test_minilm_vectors_equal_sentence_transformers_for_the_same_model(
    minilm: OnnxEmbedder,
) -> None:
    """Same model name as the ``local`` embedder, so the two must agree to float precision
    (compared with recorded values: importing torch here would cost a minute on 2 cores;
    ``benchmarks/recall_quality.py`` compares the two side by side on the whole set)."""
    (vector,) = minilm.embed_sync(["Ada loves espresso in the morning"])
    assert np.allclose(vector[:8], _REFERENCE_HEAD, atol=2e-5)
    for index, value in _REFERENCE_PEAKS.items():
        assert math.isclose(vector[index], value, abs_tol=2e-5)


# Recorded from a checkpoint holding only layers 0, 4 and 5 of the packaged all-MiniLM-L6-v2
# (renumbered 0, 1, 2 in its safetensors), exported whole, for the same text.
_DEFAULT_HEAD = [
    -0.044331,
    0.024501,
    0.032194,
    0.049972,
    0.032517,
    0.080741,
    0.124744,
    0.00647,
]
_DEFAULT_PEAKS = {186: 0.180465, 276: -0.140059, 10: -0.131151}


def test_float32_layer_vectors_equal_a_checkpoint_of_only_the_kept_layers(
    float32_layers: OnnxEmbedder,
) -> None:
    (vector,) = float32_layers.embed_sync(["Ada loves espresso in the morning"])
    assert np.allclose(vector[:8], _DEFAULT_HEAD, atol=2e-5)
    for index, value in _DEFAULT_PEAKS.items():
        assert math.isclose(vector[index], value, abs_tol=2e-5)


async def test_the_8_bit_default_stays_close_to_its_float32_layers_but_is_its_own_model(
    embedder: OnnxEmbedder, float32_layers: OnnxEmbedder
) -> None:
    """Quantised weights move the vectors a little (cosine about 0.99), so the two record
    different names: a store written by one is not searched with the other."""
    texts = ["Ada loves espresso in the morning", "where does she live now?", "Moved to Porto"]
    ours = await embedder.embed(texts)
    theirs = await float32_layers.embed(texts)
    closeness = [cosine(a, b) for a, b in zip(ours, theirs, strict=True)]
    assert all(0.97 < value < 0.99999 for value in closeness), closeness
    assert float32_layers.model == LAYERS_MODEL != embedder.model


def test_torch_is_never_imported() -> None:
    code = (
        "import sys\n"
        "from openmem.embedders.onnx import OnnxEmbedder\n"
        "OnnxEmbedder().embed_sync(['Ada loves espresso'])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


async def test_a_copied_model_directory_loads_offline_from_its_path(
    embedder: OnnxEmbedder, tmp_path: Path
) -> None:
    files = locate_encoder(None)
    copy = tmp_path / "minilm-layers-0-4-5"
    copy.mkdir()
    shutil.copy(files.onnx, copy / "model.onnx")
    shutil.copy(files.tokenizer, copy / "tokenizer.json")
    shutil.copy(packaged_minilm() / "config.json", copy / "config.json")
    from_path = EmbedderOptions(embedder_model=str(copy)).build_embedder()
    assert (from_path.model, from_path.dim) == ("minilm-layers-0-4-5", 384)
    (ours,) = await from_path.embed(["Ada loves espresso"])
    (default,) = await embedder.embed(["Ada loves espresso"])
    assert cosine(ours, default) > 0.99999


def _tiny_bert(directory: Path) -> None:
    """A random two-layer BERT checkpoint with MiniLM's tokenizer: exports in a blink."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    hidden, inner, vocab = 16, 32, 30522
    config = {
        "model_type": "bert",
        "hidden_size": hidden,
        "num_attention_heads": 2,
        "num_hidden_layers": 2,
        "intermediate_size": inner,
        "layer_norm_eps": 1e-12,
        "vocab_size": vocab,
    }
    tensors = {
        "embeddings.word_embeddings.weight": rng.normal(size=(vocab, hidden)),
        "embeddings.position_embeddings.weight": rng.normal(size=(512, hidden)),
        "embeddings.token_type_embeddings.weight": rng.normal(size=(2, hidden)),
        "embeddings.LayerNorm.weight": np.ones(hidden),
        "embeddings.LayerNorm.bias": np.zeros(hidden),
    }
    for layer in range(2):
        p = f"encoder.layer.{layer}"
        for name in ("attention.self.query", "attention.self.key", "attention.self.value"):
            tensors[f"{p}.{name}.weight"] = rng.normal(size=(hidden, hidden))
            tensors[f"{p}.{name}.bias"] = rng.normal(size=hidden)
        tensors[f"{p}.attention.output.dense.weight"] = rng.normal(size=(hidden, hidden))
        tensors[f"{p}.attention.output.dense.bias"] = rng.normal(size=hidden)
        tensors[f"{p}.intermediate.dense.weight"] = rng.normal(size=(inner, hidden))
        tensors[f"{p}.intermediate.dense.bias"] = rng.normal(size=inner)
        tensors[f"{p}.output.dense.weight"] = rng.normal(size=(hidden, inner))
        tensors[f"{p}.output.dense.bias"] = rng.normal(size=hidden)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            tensors[f"{p}.{norm}.weight"] = np.ones(hidden)
            tensors[f"{p}.{norm}.bias"] = np.zeros(hidden)
    directory.mkdir()
    save_file(
        {k: v.astype(np.float32) for k, v in tensors.items()}, str(directory / "model.safetensors")
    )
    (directory / "config.json").write_text(json.dumps(config))
    shutil.copy(packaged_minilm() / "tokenizer.json", directory / "tokenizer.json")


async def test_a_checkpoint_directory_is_exported_once_into_the_cache_with_checksums(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MODEL_CACHE_ENV, str(tmp_path / "cache"))
    source = tmp_path / "tiny-bert"
    _tiny_bert(source)
    embedder = OnnxEmbedder(model=str(source))
    assert embedder.dim == 16
    vectors = await embedder.embed(["hello world", "another text"])
    assert all(math.isclose(float(np.linalg.norm(v)), 1.0, rel_tol=1e-5) for v in vectors)
    (export,) = (tmp_path / "cache").glob("tiny-bert-v*/model.onnx")
    manifest = json.loads((export.parent / "manifest.json").read_text())
    assert len(manifest["source_sha256"]) == len(manifest["onnx_sha256"]) == 64
    assert export.parent.name.endswith(manifest["source_sha256"][:16])
    built_at = export.stat().st_mtime_ns
    assert locate_encoder(str(source)).onnx == export  # cached: not exported again
    assert export.stat().st_mtime_ns == built_at


@pytest.mark.parametrize("layout", ["missing", "no tokenizer", "no weights"])
def test_a_bad_model_directory_is_a_configuration_error(tmp_path: Path, layout: str) -> None:
    directory = tmp_path / "model"
    if layout != "missing":
        directory.mkdir()
        (directory / "config.json").write_text(json.dumps({"hidden_size": 8}))
    if layout == "no weights":
        (directory / "tokenizer.json").write_text("{}")
    with pytest.raises(ConfigurationError):
        OnnxEmbedder(model=str(directory)).load_sync()


def test_an_export_of_some_layers_equals_a_checkpoint_of_only_those_layers(tmp_path: Path) -> None:
    import onnxruntime
    from safetensors.numpy import load_file, save_file

    source = tmp_path / "tiny-bert"
    _tiny_bert(source)
    export_sentence_encoder(source, tmp_path / "layer1.onnx", layers=[1])
    only = tmp_path / "only-layer-1"
    only.mkdir()
    tensors = {
        name.replace("encoder.layer.1.", "encoder.layer.0."): value
        for name, value in load_file(str(source / "model.safetensors")).items()
        if "encoder.layer.0." not in name
    }
    save_file(tensors, str(only / "model.safetensors"))
    config = json.loads((source / "config.json").read_text())
    (only / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 1}))
    export_sentence_encoder(only, tmp_path / "only.onnx")
    feed = {
        "input_ids": np.array([[101, 7592, 2088, 102]], dtype=np.int64),
        "attention_mask": np.ones((1, 4), dtype=np.int64),
    }
    kept, alone = (
        onnxruntime.InferenceSession(str(tmp_path / name)).run(["sentence_embedding"], feed)[0]
        for name in ("layer1.onnx", "only.onnx")
    )
    assert np.allclose(kept, alone, atol=1e-6)
    whole = onnxruntime.InferenceSession(str(_export_whole(source, tmp_path))).run(
        ["sentence_embedding"], feed
    )[0]
    assert not np.allclose(kept, whole, atol=1e-3)


def _export_whole(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "whole.onnx"
    export_sentence_encoder(source, target)
    return target


@pytest.mark.parametrize("layers", [[], [2], [1, 0], [0, 0]])
def test_layers_outside_the_checkpoint_or_out_of_order_are_refused(
    tmp_path: Path, layers: list[int]
) -> None:
    source = tmp_path / "tiny-bert"
    _tiny_bert(source)
    with pytest.raises(ValueError, match="layers must be increasing"):
        export_sentence_encoder(source, tmp_path / "out.onnx", layers=layers)
