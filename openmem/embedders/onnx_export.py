"""Build step: a BERT sentence encoder (safetensors) rewritten as one ONNX graph, no torch.

The graph reads the weights straight from ``model.safetensors`` with numpy and spells out the
BERT encoder (embeddings, self-attention, feed-forward, layer norms), the sentence-transformers
mean pooling and the L2 normalisation with standard ONNX operators, in float32: its vectors
equal sentence-transformers' to about 1e-6 (cosine), so a store embedded by either needs no
re-embedding. (ONNX Runtime's fused BERT operators were measured and rejected: no faster on
these short texts.) ``quantize_weights`` then makes an 8-bit variant, a model of its own name
(the default: see ``model_files``). It runs once per model: ``openmem.embedders.model_files``
caches its output.

``layers`` keeps a subset of the encoder layers, in order (the default embedder keeps layers
0, 4 and 5 of all-MiniLM-L6-v2: half the arithmetic, see ``model_files``). Each kept layer
reads its own weights, so the graph equals a checkpoint holding only those layers.

    python -m openmem.embedders.onnx_export SOURCE_DIR OUT.onnx [LAYER ...]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["EXPORT_VERSION", "export_sentence_encoder", "quantize_weights"]

EXPORT_VERSION = "1"
"""Bumped whenever the graph changes, so caches of older exports are rebuilt."""

_OPSET = 18  # LayerNormalization from 17; reductions take their axes as an input from 18


def export_sentence_encoder(
    source: Path, target: Path, layers: Sequence[int] | None = None
) -> None:
    """Write ``target`` (an ONNX file) from the BERT checkpoint in directory ``source``.

    Inputs ``input_ids`` and ``attention_mask`` (int64, batch x tokens); output
    ``sentence_embedding`` (float32, batch x hidden), mean-pooled over real tokens, unit length.
    ``layers``: the encoder layers to keep, in increasing order (default: all).
    """
    import onnx
    from onnx import TensorProto, helper
    from safetensors.numpy import load_file

    config = json.loads((source / "config.json").read_text())
    if config.get("model_type") != "bert":
        raise ValueError(f"only BERT encoders can be exported, not {config.get('model_type')!r}")
    weights = {_strip_prefix(k): v for k, v in load_file(str(source / "model.safetensors")).items()}
    graph = _GraphBuilder(weights)
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    eps = float(config.get("layer_norm_eps", 1e-12))
    depth = int(config["num_hidden_layers"])
    kept = list(range(depth)) if layers is None else list(layers)
    if not kept or kept != sorted(set(kept)) or not all(0 <= layer < depth for layer in kept):
        raise ValueError(f"layers must be increasing indices below {depth}, not {kept}")

    states = graph.embeddings(eps)
    mask_bias = graph.attention_mask_bias()
    for layer in kept:
        states = graph.encoder_layer(states, mask_bias, layer, hidden, heads, eps)
    graph.mean_pool_and_normalize(states)

    model = helper.make_model(
        helper.make_graph(
            graph.nodes,
            "sentence_encoder",
            [
                helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
                helper.make_tensor_value_info(
                    "attention_mask", TensorProto.INT64, ["batch", "tokens"]
                ),
            ],
            [
                helper.make_tensor_value_info(
                    "sentence_embedding", TensorProto.FLOAT, ["batch", hidden]
                )
            ],
            initializer=graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", _OPSET)],
        producer_name="openmem",
        producer_version=EXPORT_VERSION,
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(target))


def quantize_weights(source: Path, target: Path) -> None:
    """Write ``target``: the ONNX graph ``source`` with its matrix weights in 8 bits.

    ONNX Runtime's dynamic quantisation: int8 weights, one scale per output channel, the
    activations quantised per call. ``reduce_range`` keeps the weights to 7 bits because the
    AVX2 kernels (no VNNI) add pairs of 8-bit products in 16 bits, which can saturate at full
    range (ONNX Runtime's own advice for such cores). Deterministic: the same source gives
    the same bytes, so the cache's checksums stay meaningful.
    """
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The tool advises "pre-processing" on the root logger at every call; this graph has no
    # shapes to infer that it would use, so the advice is noise in a user's first-run output.
    root = logging.getLogger()
    hush = logging.Filter("openmem.no-such-logger")
    root.addFilter(hush)
    try:
        quantize_dynamic(
            str(source),
            str(target),
            per_channel=True,
            reduce_range=True,
            weight_type=QuantType.QInt8,
        )
    finally:
        root.removeFilter(hush)


def _strip_prefix(name: str) -> str:
    # sentence-transformers saves BertModel weights without the "bert." prefix; HF BertFor*
    # checkpoints carry it. Both load.
    return name.removeprefix("bert.")


class _GraphBuilder:
    """Accumulates ONNX nodes and initialisers; each method returns its output's name."""

    def __init__(self, weights: dict[str, np.ndarray[Any, Any]]) -> None:
        self.weights = weights
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, hint: str, value: np.ndarray[Any, Any]) -> str:
        from onnx import numpy_helper

        name = self._name(hint)
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def weight(self, key: str, *, transpose: bool = False) -> str:
        array = self.weights[key].astype(np.float32)
        return self.const(key, np.ascontiguousarray(array.T) if transpose else array)

    def op(self, op_type: str, inputs: list[str], **attributes: Any) -> str:
        from onnx import helper

        output = self._name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [output], **attributes))
        return output

    def linear(self, x: str, prefix: str) -> str:
        product = self.op("MatMul", [x, self.weight(f"{prefix}.weight", transpose=True)])
        return self.op("Add", [product, self.weight(f"{prefix}.bias")])

    def layer_norm(self, x: str, prefix: str, eps: float) -> str:
        return self.op(
            "LayerNormalization",
            [x, self.weight(f"{prefix}.weight"), self.weight(f"{prefix}.bias")],
            axis=-1,
            epsilon=eps,
        )

    def embeddings(self, eps: float) -> str:
        words = self.op("Gather", [self.weight("embeddings.word_embeddings.weight"), "input_ids"])
        ids_shape = self.op("Shape", ["input_ids"])
        length = self.op(
            "Gather", [ids_shape, self.const("one", np.array(1, dtype=np.int64))], axis=0
        )
        positions = self.op(
            "Range",
            [
                self.const("zero", np.array(0, dtype=np.int64)),
                length,
                self.const("one", np.array(1, dtype=np.int64)),
            ],
        )
        position_vectors = self.op(
            "Gather", [self.weight("embeddings.position_embeddings.weight"), positions]
        )
        # Every token is of segment 0 for a single sentence, so its type vector is a constant.
        segment = self.const(
            "segment", self.weights["embeddings.token_type_embeddings.weight"][0].astype(np.float32)
        )
        summed = self.op("Add", [self.op("Add", [words, position_vectors]), segment])
        return self.layer_norm(summed, "embeddings.LayerNorm", eps)

    def attention_mask_bias(self) -> str:
        mask = self.op("Cast", ["attention_mask"], to=1)  # float32
        unsqueezed = self.op("Unsqueeze", [mask, self.const("axes", np.array([1, 2]))])
        inverted = self.op("Sub", [self.const("one_f", np.array(1.0, np.float32)), unsqueezed])
        return self.op("Mul", [inverted, self.const("neg", np.array(-10000.0, np.float32))])

    def encoder_layer(
        self, x: str, mask_bias: str, layer: int, hidden: int, heads: int, eps: float
    ) -> str:
        prefix = f"encoder.layer.{layer}"
        head_dim = hidden // heads
        split = self.const("split_shape", np.array([0, 0, heads, head_dim], dtype=np.int64))
        merge = self.const("merge_shape", np.array([0, 0, hidden], dtype=np.int64))

        def heads_first(name: str) -> str:
            projected = self.linear(x, f"{prefix}.attention.self.{name}")
            return self.op("Transpose", [self.op("Reshape", [projected, split])], perm=[0, 2, 1, 3])

        query, key, value = heads_first("query"), heads_first("key"), heads_first("value")
        key_t = self.op("Transpose", [key], perm=[0, 1, 3, 2])
        scores = self.op(
            "Mul",
            [
                self.op("MatMul", [query, key_t]),
                self.const("scale", np.array(1.0 / np.sqrt(head_dim), np.float32)),
            ],
        )
        probabilities = self.op("Softmax", [self.op("Add", [scores, mask_bias])], axis=-1)
        context = self.op("MatMul", [probabilities, value])
        merged = self.op("Reshape", [self.op("Transpose", [context], perm=[0, 2, 1, 3]), merge])
        attended = self.linear(merged, f"{prefix}.attention.output.dense")
        x = self.layer_norm(
            self.op("Add", [attended, x]), f"{prefix}.attention.output.LayerNorm", eps
        )
        inner = self.linear(x, f"{prefix}.intermediate.dense")
        # Exact GELU, as BERT was trained: 0.5 * x * (1 + erf(x / sqrt(2))).
        erf = self.op(
            "Erf",
            [self.op("Div", [inner, self.const("sqrt2", np.array(np.sqrt(2.0), np.float32))])],
        )
        activated = self.op(
            "Mul",
            [
                self.op("Mul", [inner, self.const("half", np.array(0.5, np.float32))]),
                self.op("Add", [erf, self.const("one_f", np.array(1.0, np.float32))]),
            ],
        )
        out = self.linear(activated, f"{prefix}.output.dense")
        return self.layer_norm(self.op("Add", [out, x]), f"{prefix}.output.LayerNorm", eps)

    def mean_pool_and_normalize(self, states: str) -> None:
        from onnx import helper

        mask = self.op(
            "Unsqueeze",
            [self.op("Cast", ["attention_mask"], to=1), self.const("axis", np.array([2]))],
        )
        summed = self.op(
            "ReduceSum",
            [self.op("Mul", [states, mask]), self.const("axis", np.array([1]))],
            keepdims=0,
        )
        counts = self.op(
            "Max",
            [
                self.op("ReduceSum", [mask, self.const("axis", np.array([1]))], keepdims=0),
                self.const("tiny", np.array(1e-9, np.float32)),
            ],
        )
        pooled = self.op("Div", [summed, counts])
        norm = self.op(
            "Max",
            [
                self.op("ReduceL2", [pooled, self.const("axis", np.array([1]))], keepdims=1),
                self.const("tiny", np.array(1e-12, np.float32)),
            ],
        )
        self.nodes.append(helper.make_node("Div", [pooled, norm], ["sentence_embedding"]))


def main(argv: list[str]) -> int:
    """``python -m openmem.embedders.onnx_export SOURCE_DIR OUT.onnx [LAYER ...]``."""
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    layers = [int(layer) for layer in argv[2:]] or None
    export_sentence_encoder(Path(argv[0]), Path(argv[1]), layers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
