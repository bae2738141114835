"""API keys: how a caller proves who it is, and what it may touch.

A key is ``omk_<key_id>_<secret>``: ``key_id`` (public, 12 characters) finds the record, the
secret (32 random bytes) proves possession. Only ``sha256(key)`` is stored: the key is
random and high-entropy, so a fast hash is safe and lets every request be checked in
microseconds. The plaintext is shown once, by ``openmem keys create``.

Each key is bound to one namespace (the tenant every query is bounded by) and optionally
restricted to a set of users, scope prefixes (scope filters, see ``openmem.scopes``) and verbs
(``read``, ``write``, ``delete`` or single verbs).

The store is one JSON file, written atomically (temp file + rename) with mode 0600; a
running server re-reads it when it changes, so keys created or revoked by the CLI take effect
without a restart. A change it cannot read (corrupt, unreadable) is logged at ERROR on logger
``openmem.server.keys`` and the last good keys stay in force; requests never see it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openmem.api_keys import (
    KEY_PREFIX,
    VERB_GROUPS,
    ApiKey,
    KeyVerb,
    KeyVerifier,
    SharedKeyStore,
    expand_verbs,
    matching_record,
    new_api_key,
)
from openmem.errors import ConfigurationError

__all__ = [
    "KEY_PREFIX",
    "VERB_GROUPS",
    "ApiKey",
    "KeyStore",
    "KeyVerb",
    "KeyVerifier",
    "SharedKeyStore",
    "expand_verbs",
    "matching_record",
    "new_api_key",
]

_log = logging.getLogger("openmem.server.keys")


class _KeyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    keys: list[ApiKey] = Field(default_factory=list)


def _mtime_or_none(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


class KeyStore:
    """The API keys of one server, kept in a JSON file at ``path``.

    >>> store = KeyStore(tmp_path / "keys.json")
    >>> key, record = store.create(namespace="acme", verbs=["read"])
    >>> store.verify(key).namespace
    'acme'
    """

    _RELOAD_INTERVAL: Final = 1.0

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._keys: dict[str, ApiKey] = {}
        self._mtime: int | None = None
        self._faulty_mtime: int | None = None
        self._checked_at = 0.0
        self._reload(force=True)

    # -- reading -------------------------------------------------------------------------

    def _reload(self, *, force: bool = False) -> None:
        """Re-read the file when it changed.

        ``force`` (construction, the CLI, writes) raises ``ConfigurationError`` on a corrupt or
        unreadable file: a write must never replace keys it could not read. A running server's
        periodic re-read keeps the last good keys in force instead and logs the fault loudly,
        once per version of the file: requests never see an error from it.
        """
        now = time.monotonic()
        if not force and now - self._checked_at < self._RELOAD_INTERVAL:
            return
        self._checked_at = now
        try:
            mtime = self.path.stat().st_mtime_ns
            if not force and mtime in (self._mtime, self._faulty_mtime):
                return
            data = _KeyFile.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            self._keys, self._mtime = {}, None
            return
        except (ValidationError, OSError, ValueError) as exc:
            fault = ConfigurationError(f"cannot read the key store {self.path}: {exc}")
            if force:
                raise fault from exc
            # -1 marks a file that cannot even be stat'ed: logged once too.
            marker = _mtime_or_none(self.path)
            marker = -1 if marker is None else marker
            if self._faulty_mtime != marker:
                self._faulty_mtime = marker
                _log.error("%s; the %d keys read before stay in force", fault, len(self._keys))
            return
        self._keys = {key.key_id: key for key in data.keys}
        self._mtime = mtime
        self._faulty_mtime = None

    def records(self) -> list[ApiKey]:
        """Every stored key, revoked ones included, oldest first."""
        with self._lock:
            self._reload(force=True)
            return sorted(self._keys.values(), key=lambda k: k.created_at)

    def has_active_keys(self) -> bool:
        """Whether at least one key can authenticate."""
        return any(key.active for key in self.records())

    def verify(self, key: str) -> ApiKey | None:
        """The active record for ``key``, or None when unknown, malformed or revoked."""
        with self._lock:
            self._reload()
            keys = self._keys
        return matching_record(keys, key)

    # -- writing -------------------------------------------------------------------------

    def create(
        self,
        *,
        namespace: str,
        label: str | None = None,
        users: Sequence[str] | None = None,
        scopes: Sequence[str] | None = None,
        verbs: Sequence[str] | None = None,
        app: str | None = None,
    ) -> tuple[str, ApiKey]:
        """Create a key; returns the plaintext (shown once) and the stored record."""
        key, record = new_api_key(
            namespace=namespace, label=label, users=users, scopes=scopes, verbs=verbs, app=app
        )
        with self._lock:
            self._reload(force=True)
            self._keys[record.key_id] = record
            self._write()
        return key, record

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key by its id (idempotent); raises ``ConfigurationError`` if unknown."""
        with self._lock:
            self._reload(force=True)
            record = self._keys.get(key_id)
            if record is None:
                raise ConfigurationError(f"no key with id {key_id!r} in {self.path}")
            if record.active:
                record = record.model_copy(update={"revoked_at": datetime.now(UTC)})
                self._keys[key_id] = record
                self._write()
            return record

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = _KeyFile(keys=sorted(self._keys.values(), key=lambda k: k.created_at))
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".keys-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(payload.model_dump(mode="json"), indent=2))
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._mtime = self.path.stat().st_mtime_ns
