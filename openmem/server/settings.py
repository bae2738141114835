"""How ``openmem serve`` is configured: flags > file > environment > defaults, like the SDK.

Server options live in a ``[server]`` table of the same TOML file that configures the
provider (the rest of the file, top level or ``[openmem]``, is the provider's), or in
``OPENMEM_SERVER_<OPTION>`` variables::

    provider = "postgres"
    url = "postgresql://memory@db/openmem"

    [server]
    host = "0.0.0.0"
    port = 8080
    keys_path = "/var/lib/openmem/keys.json"

The provider itself is resolved by ``openmem.config.resolve_config`` exactly as the SDK
resolves it (``OPENMEM_PROVIDER``, ``OPENMEM_URL``, ...).
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from openmem.environment import data_root
from openmem.errors import ConfigurationError
from openmem.fields import Identifier
from openmem.llm.client import LLMOptions

__all__ = [
    "SERVER_CONFIG_ENV",
    "SERVER_ENV_PREFIX",
    "ServerSettings",
    "default_data_dir",
    "is_loopback",
    "load_server_settings",
]

SERVER_ENV_PREFIX = "OPENMEM_SERVER_"
SERVER_CONFIG_ENV = "OPENMEM_SERVER_CONFIG"
"""Names the TOML file of ``app_from_env`` (not a server option itself)."""


def default_data_dir() -> Path:
    """openmem's data root (``OPENMEM_DATA_DIR``, else the user data dir); see ``data_root``."""
    return data_root()


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ServerSettings(BaseModel):
    """Options of the HTTP server (the provider's options are separate)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    auth: bool = True
    """False (``--no-auth``) is only accepted on a loopback host."""
    keys_path: Path | None = None
    """The key store; default ``<data dir>/server/keys.json``."""
    key_backend: Literal["auto", "file", "database"] = "auto"
    """Where API keys live. ``database``: in the provider's database, shared by every
    replica (postgres); ``file``: the JSON key file. ``auto``: the database when the provider
    has one and the key file holds no active key (move one with ``openmem keys migrate``)."""
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=104_857_600)
    body_timeout: float = Field(default=30.0, gt=0, le=3600)
    """Seconds a request body may take to arrive, from the end of its headers; a slower one
    is refused with 400 and its connection's worker is free again."""
    header_timeout: float = Field(default=5.0, gt=0, le=3600)
    """Seconds a request's headers may take to arrive, from its first byte (``openmem serve``);
    a slower client gets 400 and its connection is closed (slowloris)."""
    max_in_flight: int = Field(default=512, ge=1, le=100_000)
    """Requests handled at once; one more answers 503 ``provider_saturated`` with
    ``Retry-After`` (``/healthz`` and ``/metrics`` are not counted)."""
    max_connections: int = Field(default=2048, ge=1, le=1_000_000)
    """Open connections and tasks of ``openmem serve`` (uvicorn's ``limit_concurrency``); the
    ASGI server itself answers beyond it, a plain-text 503."""
    namespace: Identifier = "default"
    """The namespace of requests without auth (and without ``X-OMP-Namespace``)."""
    health_timeout: float = Field(default=2.0, gt=0)
    graceful_timeout: float = Field(default=30.0, ge=0)
    """Seconds in-flight requests get to finish on shutdown."""
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    cors_origins: list[str] = Field(default_factory=list)
    llm_url: str | None = None
    """The OpenAI-compatible API root of the chat model for ``infer`` (``.../v1``)."""
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_api_version: str | None = None
    """Azure OpenAI's ``api-version``."""

    def __init__(self, **options: Any) -> None:
        """Validate the options; a bad one is a ``ConfigurationError`` naming it."""
        try:
            super().__init__(**options)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            loc = first.get("loc", ())  # the option, then pydantic's way into a union or list
            option = str(loc[0]) if loc else ""
            message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
            raise ConfigurationError(f"invalid server option {option!r}: {message}") from None

    @property
    def resolved_keys_path(self) -> Path:
        """Where the key store is."""
        return self.keys_path or default_data_dir() / "server" / "keys.json"

    def llm_options(self) -> LLMOptions | None:
        """The chat model's options when ``llm_url`` and ``llm_model`` are both set."""
        if self.llm_url is None or self.llm_model is None:
            return None
        return LLMOptions(
            base_url=self.llm_url,
            model=self.llm_model,
            api_key=self.llm_api_key,
            api_version=self.llm_api_version,
        )

    def check_exposure(self) -> None:
        """Refuse to serve without auth anywhere but loopback."""
        if not self.auth and not is_loopback(self.host):
            raise ConfigurationError(
                f"refusing to serve without auth on {self.host!r}: --no-auth is only allowed "
                "on a loopback host (127.0.0.1, ::1, localhost)"
            )


def load_server_settings(
    *,
    flags: Mapping[str, Any] | None = None,
    file: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ServerSettings:
    """Merge flags > file ``[server]`` > ``OPENMEM_SERVER_*`` > defaults, and validate."""
    env = os.environ if env is None else env
    merged: dict[str, Any] = {
        key[len(SERVER_ENV_PREFIX) :].lower(): value
        for key, value in env.items()
        if key.startswith(SERVER_ENV_PREFIX) and value != "" and key != SERVER_CONFIG_ENV
    }
    if "cors_origins" in merged and isinstance(merged["cors_origins"], str):
        merged["cors_origins"] = [o.strip() for o in merged["cors_origins"].split(",") if o]
    if file is not None:
        merged.update(server_table(file))
    merged.update({k: v for k, v in (flags or {}).items() if v is not None})
    return ServerSettings(**merged)  # a bad option is a ConfigurationError naming it


def _read_toml(file: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigurationError(f"configuration file not found: {file}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{file} is not valid TOML: {exc}") from exc


def server_table(file: Path) -> dict[str, Any]:
    """The ``[server]`` table of a configuration file (empty when there is none)."""
    data = _read_toml(file)
    table = data.get("server")
    if table is None and isinstance(data.get("openmem"), dict):
        table = data["openmem"].get("server")
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ConfigurationError(f"{file}: [server] must be a table")
    return table


def provider_table(file: Path) -> dict[str, Any]:
    """The provider part of a configuration file: everything but ``[server]``."""
    data = _read_toml(file)
    table = data.get("openmem", data)
    if not isinstance(table, dict):
        raise ConfigurationError(f"{file}: [openmem] must be a table")
    return {k: v for k, v in table.items() if k != "server"}
