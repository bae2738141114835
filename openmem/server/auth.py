"""Who is calling the server, and what the key lets them do.

``authenticate`` turns the request headers into a ``Principal``: the namespace every query is
bounded by, plus the key's restrictions. The routes ask the principal before every verb:

- a verb outside the key's verbs, a user outside its users, or a scope outside its scope
  prefixes is ``scope_denied`` (403): the request names something the key may not touch;
- a memory that exists but lies outside the key's scopes is ``not_found`` for by-id verbs,
  exactly as if it did not exist, so a key learns nothing beyond its own world.

Missing, malformed, unknown or revoked credentials are all the same ``unauthorized`` (401).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from openmem.errors import NotFoundError, ScopeDeniedError, UnauthorizedError
from openmem.models import MemoryRecord
from openmem.scopes import scope_matches
from openmem.server.keys import ApiKey, KeyVerifier

__all__ = ["Principal", "authenticate", "credentials_from"]


def credentials_from(headers: Mapping[str, str]) -> str | None:
    """The API key sent as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.

    None when neither is sent; ``""`` (never valid) when a credential is malformed or the two
    headers carry different keys: an ambiguous request is refused, not guessed at.
    """
    auth = headers.get("authorization")
    api_key = headers.get("x-api-key")
    bearer: str | None = None
    if auth is not None:
        scheme, _, value = auth.partition(" ")
        bearer = value.strip() if scheme.lower() == "bearer" else ""
    if api_key is not None:
        api_key = api_key.strip()
        if bearer is not None and bearer != api_key:
            return ""
        return api_key
    return bearer


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: a namespace, and the key's restrictions (None: no auth)."""

    namespace: str
    key: ApiKey | None = None

    @property
    def app(self) -> str | None:
        """The app name recorded in the audit log for this key, if the key sets one."""
        return self.key.app if self.key else None

    @property
    def sole_user(self) -> str | None:
        """The user a key is bound to when it is bound to exactly one (else None).

        By-id verbs of such a key need no ``X-User-Id``: the key can act for no one else, so
        supplying its user reveals nothing and widens nothing (spec/omp.md §13; the OMP 0.1
        reference client sends no user on get, update and delete).
        """
        users = self.key.users if self.key is not None else None
        return users[0] if users is not None and len(users) == 1 else None

    def require_verb(self, verb: str) -> None:
        """Raise ``ScopeDeniedError`` if the key may not call ``verb``."""
        if self.key is not None and not self.key.allows_verb(verb):
            raise ScopeDeniedError(f"this API key may not call {verb!r}")

    def require_user(self, user_id: str) -> None:
        """Raise ``ScopeDeniedError`` if the key may not act for ``user_id``."""
        if self.key is not None and not self.key.allows_user(user_id):
            raise ScopeDeniedError("this API key may not act for this user", field="user_id")

    def require_all_scopes(self) -> None:
        """Raise ``ScopeDeniedError`` unless the key is unrestricted in scope (forget_user)."""
        if self.key is not None and self.key.scopes is not None:
            raise ScopeDeniedError("this API key is restricted to some scopes")

    def require_write_scope(self, scope: str | None) -> None:
        """Raise ``ScopeDeniedError`` unless a memory in ``scope`` is inside the key's scopes."""
        if self.key is None or self.key.scopes is None:
            return
        if scope is None or not any(scope_matches(p, scope) for p in self.key.scopes):
            raise ScopeDeniedError(
                "this API key may only write under: " + ", ".join(self.key.scopes),
                field="scope",
            )

    def narrow_filter(self, scope_filter: str | None) -> str | None:
        """The scope filter to query with: the caller's, checked to lie inside the key's.

        A filter lies inside a key prefix when every scope it matches also matches the
        prefix; ``scope_matches(prefix, filter)`` says exactly that, because a ``*`` in the
        filter equals only a ``*`` in the prefix. Without a filter, a key with one scope
        prefix queries under it; a key with several must name one.
        """
        if self.key is None or self.key.scopes is None:
            return scope_filter
        allowed = self.key.scopes
        if scope_filter is None:
            if len(allowed) == 1:
                return allowed[0]
            raise ScopeDeniedError(
                "this API key is restricted to several scopes; pass scope= (one of: "
                + ", ".join(allowed)
                + ")",
                field="scope",
            )
        if any(scope_matches(prefix, scope_filter) for prefix in allowed):
            return scope_filter
        raise ScopeDeniedError(
            "this API key may only read under: " + ", ".join(allowed), field="scope"
        )

    def allows_scope(self, scope: str | None) -> bool:
        """Whether something in ``scope`` lies inside the key's scopes."""
        if self.key is None or self.key.scopes is None:
            return True
        return scope is not None and any(scope_matches(p, scope) for p in self.key.scopes)

    def can_see(self, record: MemoryRecord) -> bool:
        """Whether the record lies inside the key's scopes."""
        return self.allows_scope(record.scope)

    def require_visible(self, record: MemoryRecord, memory_id: str) -> None:
        """Raise ``NotFoundError`` for a record outside the key's scopes (no existence leak)."""
        if not self.can_see(record):
            raise NotFoundError(f"memory {memory_id!r} not found")


def authenticate(
    headers: Mapping[str, str],
    *,
    store: KeyVerifier | None,
    default_namespace: str,
    requested_namespace: str | None,
) -> Principal:
    """The principal for a request; ``store=None`` means auth is off (loopback only).

    ``requested_namespace`` (header ``X-OMP-Namespace``) selects the namespace when auth is
    off; with a key it must name the key's own namespace.
    """
    if store is None:
        return Principal(namespace=requested_namespace or default_namespace)
    key = credentials_from(headers)
    if not key:
        raise UnauthorizedError(
            "an API key is required (Authorization: Bearer <key> or X-API-Key: <key>)"
        )
    record = store.verify(key)
    if record is None:
        raise UnauthorizedError("the API key is not valid")
    if requested_namespace is not None and requested_namespace != record.namespace:
        raise ScopeDeniedError("this API key is bound to another namespace", field="namespace")
    return Principal(namespace=record.namespace, key=record)
