"""A corrupt or unreadable key file: the last good keys stay in force, loudly, never a 500."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from openmem.errors import ConfigurationError
from openmem.server import KeyStore

from .conftest import AuthedServer


def _fault(path: Path, kind: str) -> None:
    """Break the key file the way an operator's mistake or a failing disk would."""
    if kind == "garbage":
        path.write_bytes(b'{"version": 1, "keys": [{"key_id": ')
    elif kind == "not utf-8":
        path.write_bytes(b"\xff\xfe\x00garbage")
    elif kind == "wrong shape":
        path.write_text('{"version": 1, "keys": [{"key_id": 1}]}')
    else:  # unreadable: a directory where the file was (root can read any mode bits)
        path.unlink()
        path.mkdir()
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


FAULTS = ["garbage", "not utf-8", "wrong shape", "unreadable"]


@pytest.mark.parametrize("kind", FAULTS)
async def test_a_broken_key_file_keeps_the_last_good_keys(
    authed: AuthedServer,
    kind: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = authed.key(namespace="a")
    ok = await authed.client.get("/memories", params={"user_id": "u1"}, headers=headers)
    assert ok.status_code == 200
    monkeypatch.setattr(KeyStore, "_RELOAD_INTERVAL", 0.0)
    _fault(authed.store.path, kind)
    with caplog.at_level(logging.ERROR, logger="openmem.server.keys"):
        answers = [
            await authed.client.get("/memories", params={"user_id": "u1"}, headers=headers)
            for _ in range(3)
        ]
        wrong = await authed.client.get(
            "/memories", params={"user_id": "u1"}, headers={"authorization": "Bearer omk_x"}
        )
    assert [a.status_code for a in answers] == [200, 200, 200], answers[-1].text
    assert wrong.status_code == 401
    faults = [r for r in caplog.records if "cannot read the key store" in r.getMessage()]
    assert len(faults) == 1, "logged loudly, once per version of the file"
    assert "stay in force" in faults[0].getMessage()


async def test_a_repaired_key_file_is_read_again(
    authed: AuthedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = authed.key(namespace="a")
    good = tmp_path / "good.json"
    shutil.copy(authed.store.path, good)
    monkeypatch.setattr(KeyStore, "_RELOAD_INTERVAL", 0.0)
    _fault(authed.store.path, "garbage")
    await authed.client.get("/memories", params={"user_id": "u1"}, headers=first)
    with pytest.raises(ConfigurationError, match="cannot read the key store"):
        authed.store.create(namespace="a")  # a write never replaces keys it could not read
    shutil.copy(good, authed.store.path)
    stat = os.stat(authed.store.path)
    os.utime(authed.store.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    repaired = await authed.client.get("/memories", params={"user_id": "u1"}, headers=first)
    assert repaired.status_code == 200


def test_a_broken_key_file_at_start_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("not json")
    with pytest.raises(ConfigurationError, match="cannot read the key store"):
        KeyStore(path)
