"""Retrieval quality: does a question bring back the right memory, when the words differ?

On the built-in set (``benchmarks/data/recall_set.jsonl``: 300 questions over 2,000 memories
of 50 users, half of the questions sharing no content word with their memory, every memory
beside a near-miss of the same user), each embedder stores the memories in the postgres
provider (embedded server, one schema per embedder) and answers every question in each
search mode, through ``AsyncMemory`` as an application would. Reported: recall@1, recall@5
and MRR (over the top 10), overall and for the paraphrase and lexical halves, for:

- ``hashing``: the lexical embedder (word overlap);
- ``onnx``: the default, layers 0, 4 and 5 of all-MiniLM-L6-v2 with 8-bit weights on ONNX
  Runtime (no torch: asserted);
- ``onnx_float32``: the same three layers in float32 (``embedder_model=
  "openmem/all-MiniLM-L6-v2-layers-0-4-5"``), by ``--embedders`` only;
- ``onnx_minilm``: the whole all-MiniLM-L6-v2 on ONNX Runtime (``embedder_model=
  "sentence-transformers/all-MiniLM-L6-v2"``), side by side with the default;
- ``local``: the whole MiniLM through sentence-transformers (torch), full run only;
- ``mem0``: mem0 OSS (embedded qdrant) behind openmem with the default model, semantic
  (mem0 has no keyword mode), full run only.

Cost, each embedder in a fresh interpreter: cold start (import + load + first embed, each part
timed), texts/s batched (the 2,000 memories of the set in one call) and one at a time, and the
resident memory the embedder adds to the process. Each rate is given per wall-clock second and
per CPU-second of the process: on a shared machine the wall figures fall with the load, the
CPU figures much less (a quiet 2-core machine gives about twice the per-CPU-second rate).

``--dataset FILE`` reads LongMemEval (``longmemeval_s``/``_m`` JSON) or LoCoMo
(``locomo10.json``) in their published formats instead, ingests each question's haystack
(LongMemEval: one memory per session; LoCoMo: one per dialogue turn) and reports recall@k
against the evidence labels (a question counts when any evidence is in the top k).

``--quick`` (under 60 s): ten users (400 memories, 60 questions), ``hashing``, ``onnx`` and
``onnx_minilm``. ``--embedders hashing,onnx`` runs a subset (sentence-transformers alone takes
minutes here).

    uv run python benchmarks/recall_quality.py [--quick] [--dataset FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openmem_postgres.bench import write_results

from openmem import AsyncMemory
from openmem.embedders.model_files import LAYERS_MODEL, MINILM_MODEL

SET = Path(__file__).resolve().parent / "data" / "recall_set.jsonl"
MODES = ("semantic", "keyword", "hybrid")
TOP = 10
EMBEDDERS: dict[str, dict[str, str]] = {
    "hashing": {"embedder": "hashing"},
    "onnx": {"embedder": "onnx"},
    "onnx_minilm": {"embedder": "onnx", "embedder_model": MINILM_MODEL},
    "onnx_float32": {"embedder": "onnx", "embedder_model": LAYERS_MODEL},
    "local": {"embedder": "local"},
}
"""Each compared embedder's options (``mem0`` runs the default ``onnx`` inside mem0)."""


@dataclass
class Case:
    """One user's memories and the questions asked of them."""

    user: str
    memories: list[tuple[str, str]] = field(default_factory=list)  # (set id, content)
    questions: list[tuple[str, set[str], bool]] = field(default_factory=list)
    """(question, target set ids, paraphrase?)"""


def builtin_set(users: int | None) -> list[Case]:
    """The built-in set, optionally its first ``users`` users."""
    cases: dict[str, Case] = {}
    for line in SET.read_text().splitlines()[1:]:
        row = json.loads(line)
        case = cases.setdefault(row["user"], Case(row["user"]))
        if row["kind"] == "memory":
            case.memories.append((row["id"], row["content"]))
        else:
            case.questions.append((row["query"], {row["target"]}, bool(row["paraphrase"])))
    ordered = sorted(cases.values(), key=lambda c: c.user)
    return ordered[:users] if users else ordered


def external_set(path: Path) -> list[Case]:
    """LongMemEval or LoCoMo, told apart by their fields."""
    data = json.loads(path.read_text())
    if data and "haystack_sessions" in data[0]:
        return list(_longmemeval(data))
    if data and "conversation" in data[0]:
        return list(_locomo(data))
    raise SystemExit(f"{path}: neither LongMemEval nor LoCoMo")


def _longmemeval(data: list[dict[str, Any]]) -> Iterable[Case]:
    for item in data:
        case = Case(str(item["question_id"]))
        for session_id, turns in zip(
            item["haystack_session_ids"], item["haystack_sessions"], strict=True
        ):
            text = "\n".join(f"{t['role']}: {t['content']}" for t in turns)
            case.memories.append((str(session_id), text[:100_000]))
        evidence = {str(s) for s in item.get("answer_session_ids", [])}
        if evidence:
            case.questions.append((str(item["question"]), evidence, False))
            yield case


def _locomo(data: list[dict[str, Any]]) -> Iterable[Case]:
    for sample in data:
        case = Case(str(sample["sample_id"]))
        conversation = sample["conversation"]
        for key, turns in conversation.items():
            if key.startswith("session_") and isinstance(turns, list):
                for turn in turns:
                    case.memories.append((turn["dia_id"], f"{turn['speaker']}: {turn['text']}"))
        for qa in sample["qa"]:
            evidence = {str(e) for e in qa.get("evidence", [])}
            if evidence and "question" in qa:
                case.questions.append((str(qa["question"]), evidence, False))
        yield case


def scores(ranks: list[int]) -> dict[str, float]:
    """recall@1, recall@5 and MRR@10 of 1-based ranks (0 = not in the top 10)."""
    n = max(1, len(ranks))
    return {
        "recall_at_1": round(sum(r == 1 for r in ranks) / n, 3),
        "recall_at_5": round(sum(1 <= r <= 5 for r in ranks) / n, 3),
        "mrr": round(sum(1 / r for r in ranks if r) / n, 3),
    }


async def evaluate(
    cases: list[Case], options: dict[str, Any], modes: tuple[str, ...]
) -> dict[str, Any]:
    """Ingest every case, ask every question in each mode; scores per mode and half."""
    ranks: dict[str, dict[str, list[int]]] = {m: {"all": [], "para": [], "lex": []} for m in modes}
    async with AsyncMemory(**options) as mem:
        for case in cases:
            ids: dict[str, str] = {}
            contents = [content for _, content in case.memories]
            for start in range(0, len(contents), 100):
                records = await mem.add_many(contents[start : start + 100], user_id=case.user)
                for (set_id, _), record in zip(
                    case.memories[start : start + 100], records, strict=True
                ):
                    ids[record.id] = set_id
            for question, targets, paraphrase in case.questions:
                for mode in modes:
                    hits = await mem.search(question, case.user, mode=mode, limit=TOP)  # type: ignore[arg-type]
                    found = [ids.get(hit.memory.id) for hit in hits]
                    rank = next((i + 1 for i, f in enumerate(found) if f in targets), 0)
                    ranks[mode]["all"].append(rank)
                    ranks[mode]["para" if paraphrase else "lex"].append(rank)
    return {
        mode: {
            "overall": scores(by["all"]),
            **({"paraphrase": scores(by["para"])} if by["para"] else {}),
            **({"lexical": scores(by["lex"])} if by["lex"] and by["para"] else {}),
        }
        for mode, by in ranks.items()
    }


_COST = """
import asyncio, json, sys, time
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
def clocks():
    return time.perf_counter(), time.process_time()
def since(mark):
    wall, cpu = clocks()
    return round(wall - mark[0], 3), round(cpu - mark[1], 3)
base = rss()
began = clocks()
from openmem.embedders import EmbedderOptions
texts = json.loads(sys.stdin.read())
async def main():
    embedder = EmbedderOptions(**json.loads(sys.argv[1])).build_embedder()
    imported = since(began)
    mark = clocks()
    load = getattr(embedder, "load_sync", None)
    if load is not None:
        load()
    loaded_at = since(mark)
    mark = clocks()
    await embedder.embed([texts[0]])
    first = since(mark)
    cold = since(began)
    loaded = rss()
    mark = clocks()
    await embedder.embed(texts)
    batched = since(mark)
    singles = texts[: int(sys.argv[2])]
    mark = clocks()
    for text in singles:
        await embedder.embed([text])
    single = since(mark)
    n = len(texts)
    return {"cold_start_s": cold[0], "cold_start_cpu_s": cold[1],
            "cold_start_parts_s": {"import": imported[0], "load": loaded_at[0],
                                   "first_embed": first[0]},
            "texts_per_s_batched": round(n / batched[0]),
            "texts_per_cpu_s_batched": round(n / max(batched[1], 1e-9)),
            "texts_per_s_single": round(len(singles) / single[0]),
            "texts_per_cpu_s_single": round(len(singles) / max(single[1], 1e-9)),
            "resident_mb": round(loaded - base, 1),
            "torch_imported": "torch" in sys.modules, "model": embedder.model}
print(json.dumps(asyncio.run(main())))
"""


def cost(embedder: str, texts: list[str], singles: int) -> dict[str, Any]:
    """Cold start, throughput (all ``texts`` batched, the first ``singles`` one at a time) and
    resident memory of ``embedder``, in a fresh interpreter."""
    options = json.dumps(EMBEDDERS[embedder])
    result = subprocess.run(
        [sys.executable, "-c", _COST, options, str(singles)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def main() -> None:
    """Run the comparison; write ``results/recall_quality[_quick].{json,md}``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under 60 s)")
    parser.add_argument("--dataset", type=Path, help="a LongMemEval or LoCoMo JSON file")
    parser.add_argument(
        "--embedders",
        help="comma-separated subset of hashing,onnx,onnx_float32,onnx_minilm,local,mem0 "
        "(default: all of the mode's)",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    cases = external_set(args.dataset) if args.dataset else builtin_set(10 if args.quick else None)
    texts = [content for case in cases for _, content in case.memories]
    chosen = ["hashing", "onnx", "onnx_minilm"]
    if not args.quick:
        chosen += ["local", "mem0"]
    if args.embedders:
        chosen = [name.strip() for name in args.embedders.split(",")]
        unknown = set(chosen) - {*EMBEDDERS, "mem0"}
        if unknown:
            parser.error(f"unknown embedders: {', '.join(sorted(unknown))}")
    embedders = [name for name in chosen if name != "mem0"]
    data_dir = Path(tempfile.mkdtemp(prefix="openmem-recall-"))
    result: dict[str, Any] = {
        "set": str(args.dataset or SET.name),
        "users": len(cases),
        "memories": len(texts),
        "questions": sum(len(c.questions) for c in cases),
        "quality": {},
        "cost": {},
    }
    try:
        for name in embedders:
            result["cost"][name] = cost(name, texts[:2000], 50 if args.quick else 200)
            options = {
                "provider": "postgres",
                "data_dir": data_dir,
                "db_schema": f"recall_{name}",
                **EMBEDDERS[name],
            }
            result["quality"][name] = asyncio.run(evaluate(cases, options, MODES))
            if name == "onnx":
                # The default must recall by meaning without torch, in this process too.
                assert "torch" not in sys.modules, "the default embedder imported torch"
                assert not result["cost"]["onnx"]["torch_imported"]
        if "mem0" in chosen and not args.dataset:
            options = {"provider": "mem0", "data_dir": str(data_dir / "mem0"), "embedder": "onnx"}
            result["quality"]["mem0_onnx"] = asyncio.run(evaluate(cases, options, ("semantic",)))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    name = "recall_quality" if not args.dataset else f"recall_quality_{args.dataset.stem}"
    write_results(args.out, name, result, table(result), args.quick)


def table(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Rows for the markdown results: quality per embedder and mode, then cost."""
    rows: list[tuple[str, str, str]] = []
    for embedder, by_mode in result["quality"].items():
        for mode, halves in by_mode.items():
            for half, s in halves.items():
                target = ""
                if embedder == "onnx" and mode == "semantic" and half == "overall":
                    target = "r@5 >= 0.85, MRR >= 0.7"
                if embedder == "onnx" and mode == "semantic" and half == "paraphrase":
                    target = "r@5 >= 0.75"
                value = f"r@1 {s['recall_at_1']} · r@5 {s['recall_at_5']} · MRR {s['mrr']}"
                rows.append((f"{embedder} {mode} {half}", value, target))
    for embedder, c in result["cost"].items():
        target = "<= 2 s; >= 1,000/s batched; no torch" if embedder == "onnx" else ""
        value = (
            f"cold {c['cold_start_s']} s (cpu {c['cold_start_cpu_s']} s) · "
            f"{c['texts_per_s_batched']}/s batched ({c['texts_per_cpu_s_batched']} per cpu-s) · "
            f"{c['texts_per_s_single']}/s single ({c['texts_per_cpu_s_single']} per cpu-s) · "
            f"{c['resident_mb']} MB · torch {c['torch_imported']}"
        )
        rows.append((f"{embedder} cost", value, target))
    if {"onnx", "onnx_minilm"} <= result["cost"].keys():
        ours, whole = result["cost"]["onnx"], result["cost"]["onnx_minilm"]
        ratio = (
            f"{ours['texts_per_s_batched'] / whole['texts_per_s_batched']:.2f}x per wall-s, "
            f"{ours['texts_per_cpu_s_batched'] / whole['texts_per_cpu_s_batched']:.2f}x per cpu-s"
        )
        rows.append(("onnx / onnx_minilm batched, same run", ratio, ""))
    return rows


if __name__ == "__main__":
    main()
