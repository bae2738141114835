"""Every provider's options and the server's settings: a bad value is a ConfigurationError
naming the option, at construction (never pydantic's raw ValidationError, never later in a
driver); a ``Path`` where a path is meant is simply accepted.

Table-driven: every option of every provider gets a value of no sensible type, then the
wrong values (right type, out of range or unusable) listed below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openmem_letta import LettaProvider
from openmem_mem0 import Mem0Provider
from openmem_postgres import PostgresProvider
from openmem_powermem import PowermemProvider
from openmem_supermemory import SupermemoryProvider

from openmem import AsyncMemory
from openmem.errors import ConfigurationError
from openmem.inmemory import InMemoryProvider
from openmem.passthrough import PassthroughProvider
from openmem.provider import Provider
from openmem.server import ServerSettings

PROVIDERS: dict[type[Provider[Any]], dict[str, Any]] = {
    InMemoryProvider: {},
    PassthroughProvider: {"base_url": "http://127.0.0.1:9"},
    PostgresProvider: {},
    Mem0Provider: {},
    PowermemProvider: {},
    LettaProvider: {},
    SupermemoryProvider: {},
}
"""Each provider and the options it needs to be constructed at all."""


class _NoSensibleType:
    """A value no option of any type accepts."""


def _every_option() -> list[Any]:
    return [
        pytest.param(cls, name, id=f"{cls.name}.{name}")
        for cls in PROVIDERS
        for name in cls.Options.model_fields
    ]


@pytest.mark.parametrize(("provider", "option"), _every_option())
def test_every_provider_option_of_the_wrong_type_is_a_configuration_error(
    provider: type[Provider[Any]], option: str
) -> None:
    with pytest.raises(ConfigurationError, match=rf"option '{option}' for provider"):
        provider(**{**PROVIDERS[provider], option: _NoSensibleType()})


@pytest.mark.parametrize("option", list(ServerSettings.model_fields))
def test_every_server_option_of_the_wrong_type_is_a_configuration_error(option: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"server option '{option}'"):
        ServerSettings(**{option: _NoSensibleType()})


WRONG_VALUES: list[Any] = [
    pytest.param(InMemoryProvider, "embedder_dim", 0, id="inmemory.embedder_dim=0"),
    pytest.param(InMemoryProvider, "embedder_dim", -3, id="inmemory.embedder_dim<0"),
    pytest.param(InMemoryProvider, "embedder", "no-such-embedder", id="inmemory.embedder"),
    pytest.param(PassthroughProvider, "base_url", "not a url", id="passthrough.base_url"),
    pytest.param(PassthroughProvider, "timeout", -1.0, id="passthrough.timeout<0"),
    pytest.param(PassthroughProvider, "retries", -1, id="passthrough.retries<0"),
    pytest.param(PassthroughProvider, "api_key", "k\x00", id="passthrough.api_key NUL"),
    pytest.param(PostgresProvider, "url", "postgresql://h/\x00db", id="postgres.url NUL"),
    pytest.param(PostgresProvider, "embedder_dim", 0, id="postgres.embedder_dim=0"),
    pytest.param(PostgresProvider, "data_dir", "/tmp/\ud800", id="postgres.data_dir surrogate"),
    pytest.param(Mem0Provider, "data_dir", "/tmp/\x00", id="mem0.data_dir NUL"),
    pytest.param(PowermemProvider, "data_dir", "/tmp/\x00", id="powermem.data_dir NUL"),
    pytest.param(LettaProvider, "base_url", "http://h/\x00", id="letta.base_url NUL"),
    pytest.param(SupermemoryProvider, "api_key", "\x00", id="supermemory.api_key NUL"),
]


@pytest.mark.parametrize(("provider", "option", "value"), WRONG_VALUES)
def test_wrong_values_are_configuration_errors_naming_the_option(
    provider: type[Provider[Any]], option: str, value: Any
) -> None:
    with pytest.raises(ConfigurationError, match=option):
        provider(**{**PROVIDERS[provider], option: value})


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("port", 70_000),
        ("header_timeout", 0),
        ("body_timeout", -1),
        ("max_body_bytes", 10),
        ("max_in_flight", 0),
        ("namespace", "a\x00b"),
        ("log_level", "loud"),
        ("key_backend", "cloud"),
    ],
)
def test_wrong_server_values_are_configuration_errors_naming_the_option(
    option: str, value: Any
) -> None:
    with pytest.raises(ConfigurationError, match=rf"server option '{option}'"):
        ServerSettings(**{option: value})


@pytest.mark.parametrize("provider", [PostgresProvider, Mem0Provider, PowermemProvider])
def test_a_path_where_a_path_is_meant_is_accepted(
    provider: type[Provider[Any]], tmp_path: Path
) -> None:
    built = provider(data_dir=tmp_path)
    assert Path(built.options.data_dir) == tmp_path  # type: ignore[attr-defined]


def test_a_path_through_the_configuration_layer_is_accepted_too(tmp_path: Path) -> None:
    memory = AsyncMemory(provider="powermem", data_dir=tmp_path)
    assert Path(memory.provider.options.data_dir) == tmp_path  # type: ignore[attr-defined]


def test_a_wrong_value_through_the_configuration_layer_names_the_option() -> None:
    with pytest.raises(ConfigurationError, match="option 'embedder_dim' for provider"):
        AsyncMemory(provider="inmemory", embedder_dim=0)
