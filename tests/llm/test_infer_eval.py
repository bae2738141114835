"""The evaluation's scoring: fact matching is what every reported ratio rests on."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

EVAL = Path(__file__).resolve().parents[2] / "benchmarks" / "infer_eval.py"


@pytest.fixture(scope="module")
def infer_eval() -> ModuleType:
    spec = importlib.util.spec_from_file_location("infer_eval", EVAL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["infer_eval"] = module
    spec.loader.exec_module(module)
    return module


def test_facts_in_other_words_match(infer_eval: ModuleType) -> None:
    assert infer_eval.similar("Lives in Porto", "The user lives in Porto")
    assert infer_eval.similar("Is allergic to peanuts", "Allergic to peanuts")


def test_different_facts_do_not_match(infer_eval: ModuleType) -> None:
    assert not infer_eval.similar("Lives in Porto", "Lives in Lisbon")
    assert not infer_eval.similar("Is vegan", "Is vegetarian")


def test_matching_is_one_to_one(infer_eval: ModuleType) -> None:
    assert infer_eval.matched(["Lives in Porto"], ["Lives in Porto", "Lives in Porto"]) == 1
    assert infer_eval.matched(["Works as a nurse", "x"], ["Works as a nurse"]) == 1


async def test_the_fake_oracle_scores_a_correct_pipeline_perfectly(
    infer_eval: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(infer_eval, "RESULTS", tmp_path)
    args = type(
        "Args",
        (),
        {"quick": True, "provider": "inmemory", "llm_url": None, "llm_model": None},
    )()
    report = await infer_eval.evaluate(args)
    assert report["extraction_recall"] == 1.0
    assert report["dedup_accuracy"] == 1.0
    assert report["conflict_accuracy"] == 1.0
    assert report["counts"]["llm_calls"] > 0
