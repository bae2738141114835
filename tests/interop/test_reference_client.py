"""The reference OMP SDK's async client against `openmem serve`, with a key bound to one user.

Every verb OMP 0.1 defines works: the key supplies its user to get, update and delete (the
reference client sends none), and the search body form answers the bare list that client
reads (spec/omp.md §13). The client runs in ``.venv-reference``, the server in its own process.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openmem.server import KeyStore

from ..server.serve_process import openmem_serve

SCRIPT = Path(__file__).with_name("reference_client_script.py")


@pytest.fixture
def served_with_a_user_key(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`openmem serve` (in-memory provider, API keys on) and a key bound to user alice."""
    keys = tmp_path / "keys.json"
    key, _ = KeyStore(keys).create(namespace="interop", users=["alice"], label="reference")
    with openmem_serve("inmemory", tmp_path / "data", extra_args=("--keys-path", str(keys))) as url:
        yield url, key


def _run_reference_client(reference_env: Path, url: str, key: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(reference_env / "bin" / "python"), str(SCRIPT), url, key, "alice"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {line["verb"]: line for line in map(json.loads, done.stdout.splitlines())}


def test_every_omp_verb_of_the_reference_client_works_against_openmem_serve(
    reference_env: Path, served_with_a_user_key: tuple[str, str]
) -> None:
    calls = _run_reference_client(reference_env, *served_with_a_user_key)
    failed = {v: c["error"] for v, c in calls.items() if not c["ok"] and v != "get_deleted"}
    assert not failed, failed
    added = calls["add"]["value"]
    assert (added["content"], added["user_id"], added["scope"]) == (
        "prefers pnpm over npm",
        "alice",
        "coding",
    )
    memory_id = added["id"]
    assert calls["get"]["value"]["id"] == memory_id
    assert calls["update"]["value"]["content"] == "prefers pnpm over yarn"
    assert [item["id"] for item in calls["list"]["value"]["items"]] == [memory_id]
    hits = calls["search"]["value"]
    assert [hit["memory"]["id"] for hit in hits] == [memory_id]
    assert all(0.0 <= hit["score"] <= 1.0 for hit in hits)
    context = calls["context"]["value"]
    assert [c["memory_id"] for c in context["citations"]] == [memory_id]
    assert "prefers pnpm over yarn" in context["text"]
    assert calls["delete"]["value"] is None
    assert "NotFound" in calls["get_deleted"]["error"]


def test_the_reference_clients_audit_carries_the_entries_in_its_one_record(
    reference_env: Path, served_with_a_user_key: tuple[str, str]
) -> None:
    """OMP 0.1 answers ``{"entries": [...]}``; that client reads it as one ``AuditEntry``.

    It does the same against its own server (spec/omp.md §13): the list arrives, as the
    record's extra field ``entries``, and holds every verb of the run so far.
    """
    calls = _run_reference_client(reference_env, *served_with_a_user_key)
    record = calls["audit"]["value"]
    actions = [entry["action"] for entry in record["entries"]]
    assert {"add", "get", "update", "list", "search", "context"} <= set(actions), actions
