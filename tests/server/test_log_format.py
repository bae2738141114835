"""``openmem serve --log-format json``: every log line is one JSON object."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from openmem.server.log_format import JsonFormatter

from .conftest import free_port


def test_a_record_becomes_one_json_object_with_its_request_id() -> None:
    record = logging.LogRecord(
        "openmem.server", logging.WARNING, __file__, 1, "slow %s", ("x",), None
    )
    record.request_id = "req_1"
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "warning"
    assert line["logger"] == "openmem.server"
    assert line["message"] == "slow x"
    assert line["request_id"] == "req_1"
    assert line["time"].endswith("+00:00")


def test_serve_logs_json_lines(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "openmem.cli", "serve", "--provider", "inmemory"),
            *("--no-auth", "--port", str(port), "--log-format", "json"),
        ],
        env={**os.environ, "OPENMEM_DATA_DIR": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "openmem serve exited"
            assert time.monotonic() < deadline, "no answer in 60 s"
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=15)
    log_lines = [line for line in errors.splitlines() if not line.startswith("openmem serve:")]
    parsed = [json.loads(line) for line in log_lines]  # fails on any line that is not JSON
    messages = [entry["message"] for entry in parsed]
    assert any("Application startup complete" in m for m in messages), messages
    assert all(entry["logger"].startswith(("uvicorn", "openmem")) for entry in parsed)
