"""`openmem serve` and `openmem keys`: configuration, refusals and the key lifecycle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from openmem.errors import ConfigurationError
from openmem.server import KeyStore, load_server_settings
from openmem.server.app import app_from_env
from openmem.server.commands import keys, serve

from .conftest import free_port


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    runner = CliRunner()
    created = runner.invoke(
        keys,
        [
            *("create", "--namespace", "acme", "--verbs", "read", "--scope", "work"),
            *("--json", "--keys-path", str(path)),
        ],
    )
    assert created.exit_code == 0, created.output
    info = json.loads(created.output)
    assert info["key"].startswith("omk_")
    assert "key_hash" not in info
    assert KeyStore(path).verify(info["key"]) is not None

    listed = runner.invoke(keys, ["list", "--keys-path", str(path)])
    assert info["key_id"] in listed.output
    assert info["key"] not in listed.output
    assert "active" in listed.output

    revoked = runner.invoke(keys, ["revoke", info["key_id"], "--keys-path", str(path)])
    assert revoked.exit_code == 0
    assert KeyStore(path).verify(info["key"]) is None
    assert "revoked" in runner.invoke(keys, ["list", "--keys-path", str(path)]).output


def test_keys_revoke_of_an_unknown_id_fails(tmp_path: Path) -> None:
    result = CliRunner().invoke(keys, ["revoke", "nope", "--keys-path", str(tmp_path / "k")])
    assert result.exit_code == 2
    assert "no key with id" in result.output


def test_serve_refuses_no_auth_off_loopback() -> None:
    result = CliRunner().invoke(serve, ["--provider", "inmemory", "--no-auth", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "loopback" in result.output


def test_serve_refuses_to_start_without_keys(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        serve, ["--provider", "inmemory", "--keys-path", str(tmp_path / "keys.json")]
    )
    assert result.exit_code == 2
    assert "no API keys" in result.output


def test_serve_refuses_an_unknown_provider_option() -> None:
    result = CliRunner().invoke(serve, ["--provider", "inmemory", "--no-auth", "-o", "colour=red"])
    assert result.exit_code == 2
    assert "colour" in result.output


def test_server_settings_precedence_is_flags_file_env(tmp_path: Path) -> None:
    config = tmp_path / "openmem.toml"
    config.write_text('provider = "inmemory"\n[server]\nport = 9001\nhost = "::1"\n')
    env = {"OPENMEM_SERVER_PORT": "9000", "OPENMEM_SERVER_MAX_BODY_BYTES": "4096"}
    settings = load_server_settings(flags={"host": "127.0.0.2"}, file=config, env=env)
    assert (settings.host, settings.port, settings.max_body_bytes) == ("127.0.0.2", 9001, 4096)


def test_openmem_serve_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "openmem.cli", "serve", "--provider", "inmemory"),
            *("--no-auth", "--port", str(port)),
        ],
        env={**os.environ, "OPENMEM_DATA_DIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # a loaded 2-core machine starts slowly
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "openmem serve exited"
            assert time.monotonic() < deadline, "openmem serve did not answer in 60 s"
            time.sleep(0.1)
        assert httpx.get(f"{url}/capabilities").json()["provider"] == "inmemory"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    # uvicorn re-raises the signal after a clean shutdown, as process supervisors expect.
    assert process.returncode in (0, -signal.SIGTERM), output.decode()
    assert b"serving 'inmemory'" in output
    assert b"Application shutdown complete" in output


async def test_app_from_env_serves_the_configured_provider(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, asgi: Any
) -> None:
    config = tmp_path / "openmem.toml"
    config.write_text('provider = "inmemory"\n[server]\nauth = false\n')
    monkeypatch.setenv("OPENMEM_SERVER_CONFIG", str(config))
    async with asgi(app_from_env()) as http:
        response = await http.get("/capabilities")
    assert response.json()["provider"] == "inmemory"
    assert response.headers["omp-version"] == "0.1"


def test_app_from_env_refuses_no_auth_off_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENMEM_PROVIDER", "inmemory")
    monkeypatch.setenv("OPENMEM_SERVER_AUTH", "false")
    monkeypatch.setenv("OPENMEM_SERVER_HOST", "0.0.0.0")
    with pytest.raises(ConfigurationError, match="loopback"):
        app_from_env()
