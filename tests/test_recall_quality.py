"""The retrieval-quality benchmark's readers and scoring, on tiny files in the published formats.

``benchmarks/recall_quality.py --dataset FILE`` reads LongMemEval and LoCoMo as published; the
real files cannot be fetched here, so these tests write a few records of each format and run
them through the same path (parse, ingest, search, rank) on the in-memory provider.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "recall_quality.py"


@pytest.fixture(scope="module")
def recall_quality() -> ModuleType:
    spec = importlib.util.spec_from_file_location("recall_quality", BENCHMARK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["recall_quality"] = module
    spec.loader.exec_module(module)
    return module


LONGMEMEVAL: list[dict[str, Any]] = [
    {
        "question_id": "q1",
        "question_type": "single-session-user",
        "question": "Which city did I move to?",
        "answer": "Porto",
        "question_date": "2023/05/30 (Tue) 23:40",
        "haystack_dates": ["2023/05/20", "2023/05/21", "2023/05/22"],
        "haystack_session_ids": ["s-cooking", "s-move", "s-tax"],
        "haystack_sessions": [
            [{"role": "user", "content": "Give me a risotto recipe"}],
            [
                {
                    "role": "user",
                    "content": "I finally did move to the city of Porto",
                    "has_answer": True,
                },
                {"role": "assistant", "content": "Congratulations on the move!"},
            ],
            [{"role": "user", "content": "When are tax returns due?"}],
        ],
        "answer_session_ids": ["s-move"],
    },
    {  # no evidence label: not asked
        "question_id": "q2",
        "question": "What is my name?",
        "answer": "unknown",
        "haystack_session_ids": ["s-x"],
        "haystack_sessions": [[{"role": "user", "content": "hello"}]],
        "answer_session_ids": [],
    },
]

LOCOMO: list[dict[str, Any]] = [
    {
        "sample_id": "conv-1",
        "conversation": {
            "speaker_a": "Caroline",
            "speaker_b": "Melanie",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Caroline", "dia_id": "D1:1", "text": "I went to a support group."},
                {"speaker": "Melanie", "dia_id": "D1:2", "text": "I painted a lake sunrise."},
            ],
            "session_2_date_time": "1:14 pm on 25 May, 2023",
            "session_2": [
                {"speaker": "Caroline", "dia_id": "D2:1", "text": "My dog Oscar loves the beach."},
            ],
        },
        "qa": [
            {
                "question": "What did Melanie paint?",
                "answer": "a lake sunrise",
                "evidence": ["D1:2"],
                "category": 1,
            },
            {
                "question": "Who is Oscar?",
                "adversarial_answer": "a cat",
                "evidence": ["D2:1"],
                "category": 5,
            },
            {"question": "Unlabelled?", "answer": "x", "evidence": [], "category": 2},
        ],
    }
]


def test_longmemeval_sessions_become_memories_and_answer_sessions_the_targets(
    recall_quality: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "longmemeval_s.json"
    path.write_text(json.dumps(LONGMEMEVAL))
    (case,) = recall_quality.external_set(path)
    assert [set_id for set_id, _ in case.memories] == ["s-cooking", "s-move", "s-tax"]
    assert "user: I finally did move to the city of Porto" in case.memories[1][1]
    assert case.questions == [("Which city did I move to?", {"s-move"}, False)]


def test_locomo_turns_become_memories_and_evidence_the_targets(
    recall_quality: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "locomo10.json"
    path.write_text(json.dumps(LOCOMO))
    (case,) = recall_quality.external_set(path)
    assert [set_id for set_id, _ in case.memories] == ["D1:1", "D1:2", "D2:1"]
    assert case.memories[1][1] == "Melanie: I painted a lake sunrise."
    assert [(q, targets) for q, targets, _ in case.questions] == [
        ("What did Melanie paint?", {"D1:2"}),
        ("Who is Oscar?", {"D2:1"}),
    ]


def test_a_file_of_another_format_is_refused(recall_quality: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps([{"text": "hello"}]))
    with pytest.raises(SystemExit, match="neither LongMemEval nor LoCoMo"):
        recall_quality.external_set(path)


@pytest.mark.parametrize("published", [LONGMEMEVAL, LOCOMO], ids=["longmemeval", "locomo"])
async def test_a_dataset_is_ingested_searched_and_ranked_against_its_labels(
    recall_quality: ModuleType,
    tmp_path: Path,
    published: list[dict[str, Any]],
    lexical: Mapping[str, str],
) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(published))
    cases = recall_quality.external_set(path)
    # Ranked by shared words (keyword mode): the embedder's meaning plays no part.
    options = {"provider": "inmemory", **lexical}
    result = await recall_quality.evaluate(cases, options, ("keyword",))
    overall = result["keyword"]["overall"]
    # Each question shares its key word ("move", "paint"/"painted", "Oscar") with its evidence
    # alone; stemming is the provider's, so the evidence is at worst in the top 5.
    assert overall["recall_at_5"] == 1.0
    assert 0 < overall["mrr"] <= 1.0


def test_scores_are_recall_at_1_and_5_and_mrr_of_ranks(recall_quality: ModuleType) -> None:
    assert recall_quality.scores([1, 2, 6, 0]) == {
        "recall_at_1": 0.25,
        "recall_at_5": 0.5,
        "mrr": round((1 + 1 / 2 + 1 / 6) / 4, 3),
    }


def test_the_built_in_set_has_the_size_the_issue_asks_for(recall_quality: ModuleType) -> None:
    cases = recall_quality.builtin_set(None)
    questions = [q for case in cases for q in case.questions]
    assert len(cases) >= 50
    assert sum(len(case.memories) for case in cases) >= 2000
    assert len(questions) >= 300
    assert sum(paraphrase for _, _, paraphrase in questions) >= len(questions) / 2
