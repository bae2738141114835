"""How well ``add(messages=..., infer=True)`` remembers: extraction, deduplication, conflicts.

Runs the dialogue set ``benchmarks/data/infer_dialogues.json`` (written for openmem: 8 users,
19 conversations with moves, diet and job changes, refinements, restatements and small talk)
through openmem's infer pipeline on a provider, and reports:

- extraction precision / recall: the facts the model extracted from each conversation
  against the facts a careful reader keeps (a fact matches when its words overlap enough);
- final-state precision / recall: the user's active memories at the end against the
  expected ones;
- dedup accuracy: restating conversations that stored nothing new;
- conflict accuracy: contradicting conversations after which the old memory is retired
  and the new one active; update accuracy: refining conversations that rewrote the one
  memory instead of adding a second.

With ``--llm-url`` and ``--llm-model`` it asks a real OpenAI-compatible endpoint (OpenAI,
Ollama, vLLM, llama.cpp; ``--llm-api-key`` or ``OPENAI_API_KEY``). Without them it runs
against openmem's FAKE chat server playing the dataset's own answers: that measures the
pipeline and provider plumbing (a correct pipeline scores 1.0 there), not any model.

    uv run --no-sync python benchmarks/infer_eval.py [--quick] [--provider inmemory]
    uv run --no-sync python benchmarks/infer_eval.py --llm-url http://localhost:11434/v1 \\
        --llm-model llama3.1:8b

``--quick`` runs the first three cases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openmem import AsyncMemory
from openmem.llm import ChatClient, ChatMessage, InferencePipeline
from openmem.llm.fake import FakeChatServer, FakeLLM
from openmem.models import MemoryRecord
from openmem.provider import Caller

DATASET = Path(__file__).parent / "data" / "infer_dialogues.json"
RESULTS = Path(__file__).parent / "results"
MATCH_THRESHOLD = 0.5
"""Word-overlap (Jaccard) at which an extracted fact counts as the expected one."""
_STOP = frozenset(
    {"a", "an", "the", "is", "are", "am", "to", "in", "at", "of", "for", "on", "my", "me"}
    | {"i", "and", "or", "by", "as", "with", "user"}
)
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> frozenset[str]:
    """The content words of ``text``, lower-cased, light plural/verb endings dropped."""
    found = set()
    for word in _WORD.findall(text.lower()):
        if word in _STOP:
            continue
        for suffix in ("ing", "es", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
        found.add(word)
    return frozenset(found)


def similar(a: str, b: str) -> bool:
    """Whether two facts say the same thing, by word overlap."""
    wa, wb = words(a), words(b)
    return bool(wa | wb) and len(wa & wb) / len(wa | wb) >= MATCH_THRESHOLD


def matched(found: list[str], expected: list[str]) -> int:
    """How many of ``expected`` are matched one-to-one by ``found`` (greedy)."""
    left = list(found)
    hits = 0
    for want in expected:
        index = next((i for i, got in enumerate(left) if similar(got, want)), None)
        if index is not None:
            hits += 1
            left.pop(index)
    return hits


@dataclass
class Tally:
    """Counts behind every reported ratio."""

    extracted: int = 0
    expected: int = 0
    extracted_right: int = 0
    final_found: int = 0
    final_expected: int = 0
    final_right: int = 0
    dedup: list[bool] = field(default_factory=list)
    conflict: list[bool] = field(default_factory=list)
    update: list[bool] = field(default_factory=list)
    llm_calls: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """The ratios (None when the dataset has nothing to measure)."""

        def ratio(num: float, den: float) -> float | None:
            return round(num / den, 3) if den else None

        return {
            "extraction_precision": ratio(self.extracted_right, self.extracted),
            "extraction_recall": ratio(self.extracted_right, self.expected),
            "final_precision": ratio(self.final_right, self.final_found),
            "final_recall": ratio(self.final_right, self.final_expected),
            "dedup_accuracy": ratio(sum(self.dedup), len(self.dedup)),
            "conflict_accuracy": ratio(sum(self.conflict), len(self.conflict)),
            "update_accuracy": ratio(sum(self.update), len(self.update)),
            "counts": {
                "facts_extracted": self.extracted,
                "facts_expected": self.expected,
                "restatements": len(self.dedup),
                "contradictions": len(self.conflict),
                "refinements": len(self.update),
                "llm_calls": self.llm_calls,
            },
            "seconds": round(self.seconds, 2),
        }


def oracle(cases: list[dict[str, Any]]) -> FakeLLM:
    """The FAKE model: the dataset's own answers, keyed by each conversation's first line."""
    facts: dict[str, list[str]] = {}
    same: list[list[str]] = []
    replaces: dict[str, str] = {}
    refines: dict[str, tuple[str, str]] = {}
    final_text = {}
    for case in cases:
        same.extend(case.get("same", []))
        for text in case["final"]:
            final_text[text] = text
        for conversation in case["conversations"]:
            first = next(m["content"] for m in conversation["messages"] if m["role"] == "user")
            facts[first] = conversation["facts"]
            replaces.update(conversation.get("supersedes", {}))
            for new, old in conversation.get("refines", {}).items():
                merged = next((t for t in case["final"] if similar(t, new)), new)
                refines[new] = (old, merged)
    return FakeLLM(facts=facts, same=same, replaces=replaces, refines=refines)


def active(records: list[MemoryRecord]) -> list[MemoryRecord]:
    """Memories in force: not retired and not superseded."""
    superseded = {i for r in records for i in r.supersedes}
    return [r for r in records if r.valid_to is None and r.id not in superseded]


async def all_memories(mem: AsyncMemory, user: str) -> list[MemoryRecord]:
    """Every memory of ``user``, through pagination."""
    records: list[MemoryRecord] = []
    cursor = None
    while True:
        page = await mem.list(user, limit=500, cursor=cursor)
        records.extend(page.items)
        if page.next_cursor is None:
            return records
        cursor = page.next_cursor


async def run_case(
    mem: AsyncMemory, pipeline: InferencePipeline, case: dict[str, Any], tally: Tally
) -> None:
    """One user's conversations, in order, scored as they go."""
    user = f"eval-{case['id']}"
    caller = Caller(namespace=mem.namespace, user_id=user)
    for conversation in case["conversations"]:
        messages = [ChatMessage(**m) for m in conversation["messages"]]
        expected = conversation["facts"]
        before = active(await all_memories(mem, user))
        facts = await pipeline.extract(messages)
        tally.extracted += len(facts)
        tally.expected += len(expected)
        tally.extracted_right += matched(facts, expected)
        written = await pipeline.run(mem.provider, caller, messages, facts=facts)
        after = active(await all_memories(mem, user))
        if conversation.get("repeat"):
            tally.dedup.append(len(after) == len(before) and not written)
        for new, old in conversation.get("supersedes", {}).items():
            old_gone = not any(similar(r.content, old) for r in after)
            new_there = any(similar(r.content, new) for r in after)
            tally.conflict.append(old_gone and new_there)
        for _new, old in conversation.get("refines", {}).items():
            was = [r for r in before if similar(r.content, old)]
            now = {r.id: r for r in after}
            tally.update.append(
                len(after) == len(before)
                and len(was) == 1
                and was[0].id in now
                and now[was[0].id].content != was[0].content
            )
    final = [r.content for r in active(await all_memories(mem, user))]
    tally.final_found += len(final)
    tally.final_expected += len(case["final"])
    tally.final_right += matched(final, case["final"])


async def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Run the chosen cases and return the report."""
    cases = json.loads(DATASET.read_text())["cases"]
    if args.quick:
        cases = cases[:3]
    fake = None
    if args.llm_url:
        key = args.llm_api_key or os.environ.get("OPENAI_API_KEY")
        client = ChatClient(
            base_url=args.llm_url, model=args.llm_model, api_key=key, timeout=args.timeout
        )
        model = args.llm_model
    else:
        fake = FakeChatServer(oracle(cases)).start()
        client = ChatClient(base_url=fake.url, model="fake-oracle")
        model = "FAKE (the dataset's own answers: measures plumbing, not a model)"
    tally = Tally()
    started = time.perf_counter()
    try:
        pipeline = InferencePipeline(client)
        async with AsyncMemory(provider=args.provider, namespace="infer-eval") as mem:
            for case in cases:
                await run_case(mem, pipeline, case, tally)
    finally:
        await client.aclose()
        if fake is not None:
            tally.llm_calls = len(fake.requests)
            fake.close()
    tally.seconds = time.perf_counter() - started
    return {
        "benchmark": "infer_eval",
        "mode": "quick" if args.quick else "full",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "provider": args.provider,
        "model": model,
        "prompts": pipeline.provenance.prompts,
        "cases": len(cases),
        "conversations": sum(len(c["conversations"]) for c in cases),
        **tally.summary(),
    }


def write(report: dict[str, Any], *, quick: bool, real: bool) -> Path:
    """``results/infer_eval[_quick][_<model>].json`` and ``.md``; returns the JSON path."""
    stem = "infer_eval" + ("_quick" if quick else "")
    if real:
        stem += "_" + re.sub(r"[^a-z0-9]+", "-", str(report["model"]).lower()).strip("-")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{stem}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    rows = [
        ("extraction precision", report["extraction_precision"]),
        ("extraction recall", report["extraction_recall"]),
        ("final-state precision", report["final_precision"]),
        ("final-state recall", report["final_recall"]),
        ("dedup accuracy", report["dedup_accuracy"]),
        ("conflict accuracy", report["conflict_accuracy"]),
        ("update accuracy", report["update_accuracy"]),
    ]
    lines = [
        f"# infer_eval ({report['mode']})",
        "",
        f"{report['date']} · {report['machine']} · provider {report['provider']} · "
        f"model {report['model']} · prompts {report['prompts']} · "
        f"{report['cases']} cases, {report['conversations']} conversations · "
        f"{report['seconds']} s · load average at the end {report['load_average_1m_at_end']}",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
        "",
    ]
    path.with_suffix(".md").write_text("\n".join(lines))
    return path


def main() -> None:
    """Parse the arguments, run, print and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the first three cases only")
    parser.add_argument("--provider", default="inmemory", help="a registered provider name")
    parser.add_argument("--llm-url", help="an OpenAI-compatible API root (.../v1)")
    parser.add_argument("--llm-model", help="the model name at --llm-url")
    parser.add_argument("--llm-api-key", help="the API key (default: $OPENAI_API_KEY)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per LLM request")
    args = parser.parse_args()
    if bool(args.llm_url) != bool(args.llm_model):
        parser.error("--llm-url and --llm-model go together")
    with tempfile.TemporaryDirectory() as data_dir:
        # An embedded provider (postgres without a URL) keeps its data out of the user's.
        os.environ.setdefault("OPENMEM_DATA_DIR", data_dir)
        report = asyncio.run(evaluate(args))
    path = write(report, quick=args.quick, real=bool(args.llm_url))
    print(json.dumps(report, indent=2))
    print(f"written: {path}")


if __name__ == "__main__":
    main()
