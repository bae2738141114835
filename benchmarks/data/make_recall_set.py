"""Writes ``recall_set.jsonl``: the built-in retrieval-quality set of ``recall_quality.py``.

Hand-written facts about people (``recall_topics.json``), each with a near-miss distractor
(same person, same topic, a different detail or another person) and two
questions: a ``lexical`` one that reuses a
content word of the memory, and a ``paraphrase`` one that shares none (synonym, paraphrase or
inference: "Ada moved to Porto" for "where does Ada live these days?"). Fifty users get forty
memories each (twenty facts, twenty distractors) and six questions each, three of each kind:
300 questions over 2,000 memories. The generator is seeded, so the file is reproducible;
``python benchmarks/data/make_recall_set.py`` rewrites it and checks the no-shared-word rule.

Line 1 of the file is a header; then one JSON object per memory
(``{"kind": "memory", "user": ..., "id": ..., "content": ...}``) and per question
(``{"kind": "query", "user": ..., "query": ..., "target": ..., "paraphrase": bool}``).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

OUT = Path(__file__).with_name("recall_set.jsonl")
USERS = 50
FACTS_PER_USER = 20
QUESTIONS_PER_KIND = 3

_SOURCE = json.loads(Path(__file__).with_name("recall_topics.json").read_text())
NAMES: list[str] = _SOURCE["names"]
STOPWORDS: set[str] = set(_SOURCE["stopwords"])
TOPICS: list[dict[str, object]] = _SOURCE["topics"]
_WORD = re.compile(r"[a-z]+")


def content_words(text: str, name: str) -> set[str]:
    """Stems (first four letters) of the words of ``text`` other than stop words and the
    user's name: "suffers" and "suffer" count as one word, so the paraphrase rule is strict."""
    words = set(_WORD.findall(text.lower().replace("'s", "")))
    return {w[:4] for w in words - STOPWORDS - {name.lower()}}


def build(seed: int = 11) -> list[dict[str, object]]:
    """Every row of the set, deterministic for ``seed``."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for u in range(USERS):
        name = NAMES[u % len(NAMES)]
        user = f"user-{u:02d}"
        topics = rng.sample(range(len(TOPICS)), FACTS_PER_USER)
        memory_ids: list[str] = []
        for index, t in enumerate(topics):
            topic = TOPICS[t]
            slot = list(topic["slot"])  # type: ignore[call-overload]
            a, b = rng.sample(slot, 2)
            fact = str(topic["memory"]).format(n=name, a=a)
            near = str(topic["distractor"]).format(n=name, b=b)
            fact_id = f"{user}-m{index:02d}"
            rows.append({"kind": "memory", "user": user, "id": fact_id, "content": fact})
            rows.append(
                {"kind": "memory", "user": user, "id": f"{user}-d{index:02d}", "content": near}
            )
            memory_ids.append(fact_id)
        asked = rng.sample(range(FACTS_PER_USER), 2 * QUESTIONS_PER_KIND)
        for position, index in enumerate(asked):
            topic = TOPICS[topics[index]]
            paraphrase = position % 2 == 0
            query = str(topic["paraphrase" if paraphrase else "lexical"]).format(n=name)
            rows.append(
                {
                    "kind": "query",
                    "user": user,
                    "query": query,
                    "target": memory_ids[index],
                    "paraphrase": paraphrase,
                }
            )
    check(rows)
    return rows


def check(rows: list[dict[str, object]]) -> None:
    """Paraphrase questions share no content word with their target; lexical ones do."""
    by_id = {r["id"]: str(r["content"]) for r in rows if r["kind"] == "memory"}
    names = {f"user-{u:02d}": NAMES[u % len(NAMES)] for u in range(USERS)}
    for row in rows:
        if row["kind"] != "query":
            continue
        name = names[str(row["user"])]
        shared = content_words(str(row["query"]), name) & content_words(
            by_id[str(row["target"])], name
        )
        if row["paraphrase"] and shared:
            raise ValueError(f"paraphrase question shares {shared}: {row['query']}")
        if not row["paraphrase"] and not shared:
            raise ValueError(f"lexical question shares no word: {row['query']}")


def main() -> None:
    """Rewrite the set file."""
    rows = build()
    header = {
        "kind": "header",
        "name": "openmem-recall-v1",
        "memories": sum(r["kind"] == "memory" for r in rows),
        "queries": sum(r["kind"] == "query" for r in rows),
        "users": USERS,
    }
    with OUT.open("w") as out:
        for row in [header, *rows]:
            out.write(json.dumps(row) + "\n")
    print(json.dumps(header))


if __name__ == "__main__":
    main()
