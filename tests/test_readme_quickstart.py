"""The README quickstart, run exactly as written, on every provider.

The block runs with the defaults (the ONNX embedder: three layers of MiniLM, 8-bit), offline, each
provider in its own temporary data dir, as a user would after ``make bootstrap``; only
``OPENMEM_PROVIDER`` (and, for the hosted services, their URL and key) changes between runs.
Letta and Supermemory cannot be reached from here: their local contract fakes are served on
an ephemeral port.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from openmem_letta.fake import LettaFake
from openmem_supermemory.fake import SupermemoryFake

README = Path(__file__).resolve().parents[1] / "README.md"
ESPRESSO = "Ada loves espresso in the morning"
PORTO = "Ada moved to Porto last spring"

# Providers whose search runs on openmem's own (semantic) default embedder: the question shares
# no word with its memory, so finding it first proves the ranking. The contract fakes rank by
# their own rules.
SEMANTIC_BY_DEFAULT = {"postgres", "inmemory", "mem0", "powermem"}
# Not every provider keeps an audit trail; the quickstart asks capabilities() first.
WITH_AUDIT = {"postgres", "inmemory"}


def quickstart_code() -> str:
    section = README.read_text().split("## Quickstart", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the README quickstart has no python block"
    return match.group(1)


# One interpreter runs the block once per provider (each with its own environment and data
# dir): a fresh interpreter per provider would pay the imports and the embedding model's
# load again each time, for nothing the test looks at.
DRIVER = """
import contextlib, io, json, os, sys, traceback
code = sys.stdin.read()
for provider, env in json.loads(sys.argv[1]):
    saved = dict(os.environ)
    os.environ.update(env)
    out, error = io.StringIO(), None
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md quickstart", "exec"), {"__name__": "__main__"})
    except BaseException:
        error = traceback.format_exc()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    print(json.dumps({"provider": provider, "stdout": out.getvalue(), "error": error}))
"""

PROVIDERS = ["postgres", "inmemory", "mem0", "powermem", "letta", "supermemory"]


def test_the_readme_quickstart_runs_unchanged_on_every_provider(tmp_path: Path) -> None:
    code = quickstart_code()
    assert 'mem.search("what beverage does she like?", "ada")' in code
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENMEM_")}
    env["HF_HUB_OFFLINE"] = "1"
    letta, supermemory = LettaFake(), SupermemoryFake()
    with letta.serve() as letta_url, supermemory.serve() as supermemory_url:
        hosted = {
            "letta": {"OPENMEM_BASE_URL": letta_url, "OPENMEM_API_KEY": letta.api_key},
            "supermemory": {
                "OPENMEM_BASE_URL": supermemory_url,
                "OPENMEM_API_KEY": supermemory.api_key,
            },
        }
        runs = [
            (
                name,
                {
                    "OPENMEM_PROVIDER": name,
                    "OPENMEM_DATA_DIR": str(tmp_path / name),
                    **hosted.get(name, {}),
                },
            )
            for name in PROVIDERS
        ]
        done = subprocess.run(
            [sys.executable, "-c", DRIVER, json.dumps(runs)],
            input=code,
            capture_output=True,
            text=True,
            timeout=400,
            env=env,
            cwd=tmp_path,  # no stray ./.env
        )
    assert done.returncode == 0, done.stderr[-3000:]
    # mem0 and qdrant's start-up chatter is held back while mem0 opens (openmem.opening).
    for noise in ("spaCy", "Payload indexes", "fastembed"):
        assert noise not in done.stderr
    results = {r["provider"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert sorted(results) == sorted(PROVIDERS)
    for name, result in results.items():
        assert result["error"] is None, f"{name}:\n{result['error']}"
        lines = result["stdout"].splitlines()
        if name in SEMANTIC_BY_DEFAULT:
            assert lines[0] == ESPRESSO, name
        else:
            assert lines[0] in {ESPRESSO, PORTO}, name
        assert PORTO in "\n".join(lines[1:]), name  # the context block of the second question
        assert ("AuditEntry(" in result["stdout"]) == (name in WITH_AUDIT), name
