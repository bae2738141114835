"""API keys, whatever keeps them: the record, its verbs, creating and checking a key.

A key is ``omk_<key_id>_<secret>``: ``key_id`` (public, 12 characters) finds the record, the
secret (32 random bytes) proves possession. Only ``sha256(key)`` is stored: the key is
random and high-entropy, so a fast hash is safe and lets every request be checked in
microseconds. Each key is bound to one namespace and optionally restricted to users, scope
prefixes and verbs.

The server keeps keys in a JSON file (``openmem.server.keys.KeyStore``) or, with a provider
that has a database, in that database, shared by every replica (``SharedKeyStore``; the
postgres provider's ``PostgresKeyStore``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from openmem.errors import ConfigurationError
from openmem.scopes import validate_scope_filter

__all__ = [
    "KEY_PREFIX",
    "VERB_GROUPS",
    "ApiKey",
    "KeyVerb",
    "KeyVerifier",
    "SharedKeyStore",
    "expand_verbs",
    "hash_key",
    "matching_record",
    "new_api_key",
]

KEY_PREFIX: Final = "omk_"
_ID_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz0123456789"
_ID_LENGTH: Final = 12

KeyVerb = Literal[
    "add", "search", "get", "update", "delete", "list", "context", "audit", "forget_user"
]
VERB_GROUPS: Final[dict[str, tuple[KeyVerb, ...]]] = {
    "read": ("search", "get", "list", "context", "audit"),
    "write": ("add", "update"),
    "delete": ("delete", "forget_user"),
}
"""The verb groups a key may be restricted to; ``add_many`` counts as ``add``."""
_ALL_VERBS: Final[frozenset[str]] = frozenset(v for group in VERB_GROUPS.values() for v in group)


def expand_verbs(names: Iterable[str]) -> list[KeyVerb]:
    """Expand group names (``read``/``write``/``delete``) and check single verb names."""
    out: list[KeyVerb] = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        verbs: Sequence[str] = VERB_GROUPS.get(name, (name,))
        for verb in verbs:
            if verb not in _ALL_VERBS:
                raise ConfigurationError(
                    f"unknown verb {verb!r}; use read, write, delete or one of "
                    + ", ".join(sorted(_ALL_VERBS))
                )
            if verb not in out:
                out.append(verb)  # type: ignore[arg-type]
    return out


class ApiKey(BaseModel):
    """One stored key: its public id, hash, tenant binding and restrictions (never the key)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str
    key_hash: str
    namespace: str = Field(min_length=1, max_length=256)
    label: str | None = None
    users: list[str] | None = None
    """Users this key may act for; None means any user of the namespace."""
    scopes: list[str] | None = None
    """Scope filters this key may read and write under; None means every scope."""
    verbs: list[KeyVerb] | None = None
    """Verbs this key may call; None means all."""
    app: str | None = None
    """Recorded as ``app`` in the audit log for calls with this key."""
    created_at: datetime
    revoked_at: datetime | None = None

    @field_validator("scopes")
    @classmethod
    def _valid_scopes(cls, value: list[str] | None) -> list[str] | None:
        for scope in value or ():
            validate_scope_filter(scope)
        return value

    @property
    def active(self) -> bool:
        """False once revoked."""
        return self.revoked_at is None

    def allows_verb(self, verb: str) -> bool:
        """Whether this key may call ``verb``."""
        return self.verbs is None or verb in self.verbs

    def allows_user(self, user_id: str) -> bool:
        """Whether this key may act for ``user_id``."""
        return self.users is None or user_id in self.users


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _split(key: str) -> str | None:
    """The key id of a well-formed key, else None."""
    if not key.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = key[len(KEY_PREFIX) :].partition("_")
    if not sep or len(key_id) != _ID_LENGTH or len(secret) < 16:
        return None
    return key_id


def new_api_key(
    *,
    namespace: str,
    label: str | None = None,
    users: Sequence[str] | None = None,
    scopes: Sequence[str] | None = None,
    verbs: Sequence[str] | None = None,
    app: str | None = None,
) -> tuple[str, ApiKey]:
    """A new key: the plaintext (shown once) and the record to store (its hash only)."""
    key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    try:
        record = ApiKey(
            key_id=key_id,
            key_hash=hash_key(key),
            namespace=namespace,
            label=label,
            users=list(users) if users else None,
            scopes=list(scopes) if scopes else None,
            verbs=expand_verbs(verbs) if verbs else None,
            app=app,
            created_at=datetime.now(UTC),
        )
    except ValidationError as exc:
        raise ConfigurationError(str(exc)) from exc
    return key, record


def matching_record(keys: Mapping[str, ApiKey], key: str) -> ApiKey | None:
    """The active record of ``keys`` (by key id) that ``key`` proves, else None."""
    key_id = _split(key)
    if key_id is None:
        return None
    record = keys.get(key_id)
    if record is None or not hmac.compare_digest(record.key_hash, hash_key(key)):
        return None
    return record if record.active else None


class KeyVerifier(Protocol):
    """What authentication needs of a key store: the JSON ``KeyStore`` or one shared by
    every replica through the database (``SharedKeyStore``)."""

    def verify(self, key: str) -> ApiKey | None:
        """The active record for ``key``, or None."""

    def has_active_keys(self) -> bool:
        """Whether at least one key can authenticate."""


@runtime_checkable
class SharedKeyStore(KeyVerifier, Protocol):
    """Keys kept where every replica reads them (the postgres provider's ``api_keys``).

    ``verify`` answers from a local copy that follows the database within a second
    (``LISTEN/NOTIFY``, with a short refresh as the fallback), so a key created or revoked
    through any replica is honoured by all of them.
    """

    async def create_key(
        self,
        *,
        namespace: str,
        label: str | None = None,
        users: Sequence[str] | None = None,
        scopes: Sequence[str] | None = None,
        verbs: Sequence[str] | None = None,
        app: str | None = None,
    ) -> tuple[str, ApiKey]:
        """Create a key; the plaintext is returned once."""

    async def revoke_key(self, key_id: str, *, namespace: str | None = None) -> ApiKey:
        """Revoke a key (``namespace``: only one of that namespace); ``NotFoundError`` else."""

    async def import_keys(self, records: Sequence[ApiKey]) -> int:
        """Store records from elsewhere (``openmem keys migrate``); returns how many were new."""

    def records(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
