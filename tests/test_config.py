"""Configuration: kwargs > file > env > defaults, unknown options named, secrets hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from openmem import AsyncMemory, ConfigurationError, ProviderNotFoundError
from openmem.config import resolve_config


def test_kwargs_beat_file_beat_env() -> None:
    env = {"OPENMEM_PROVIDER": "inmemory", "OPENMEM_NAMESPACE": "env", "OPENMEM_APP": "env-app"}
    file = {"namespace": "file", "embedder_dim": 64}
    resolved = resolve_config(kwargs={"namespace": "kw"}, file=file, env=env)
    assert resolved.provider_name == "inmemory"
    assert resolved.settings.namespace == "kw"
    assert resolved.settings.app == "env-app"
    assert resolved.provider_options.embedder_dim == 64  # type: ignore[attr-defined]


def test_environment_values_are_coerced_to_option_types() -> None:
    env = {"OPENMEM_PROVIDER": "inmemory", "OPENMEM_EMBEDDER_DIM": "32"}
    assert resolve_config(env=env).provider_options.embedder_dim == 32  # type: ignore[attr-defined]


def test_unrelated_openmem_variables_are_ignored() -> None:
    env = {"OPENMEM_PROVIDER": "inmemory", "OPENMEM_REQUIRE_PG": "1"}
    assert resolve_config(env=env).provider_name == "inmemory"


def test_unknown_options_name_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"valid options: .*embedder_dim"):
        AsyncMemory(provider="inmemory", colour="red")


def test_invalid_option_values_name_the_option() -> None:
    with pytest.raises(ConfigurationError, match="embedder_dim"):
        AsyncMemory(provider="inmemory", embedder_dim="many")


def test_unknown_provider_lists_the_installed_ones_and_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import openmem.registry

    installed = {k: v for k, v in openmem.registry.available_providers().items() if k != "letta"}
    monkeypatch.setattr(openmem.registry, "available_providers", lambda: installed)
    with pytest.raises(ProviderNotFoundError, match=r"installed: .*inmemory") as caught:
        AsyncMemory(provider="letta")
    assert "openmem-layer[letta]" in str(caught.value)


def test_toml_file_at_top_level_or_in_an_openmem_table(tmp_path: Path) -> None:
    flat = tmp_path / "flat.toml"
    flat.write_text('provider = "inmemory"\nnamespace = "acme"\n')
    nested = tmp_path / "nested.toml"
    nested.write_text('[openmem]\nprovider = "inmemory"\nnamespace = "beta"\n')
    assert AsyncMemory.from_config(flat).namespace == "acme"
    assert AsyncMemory.from_config(nested).namespace == "beta"
    assert AsyncMemory.from_config(nested, namespace="override").namespace == "override"


def test_a_missing_or_broken_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found"):
        AsyncMemory.from_config(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("provider = ")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        AsyncMemory.from_config(broken)


def test_from_env_reads_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENMEM_PROVIDER", raising=False)
    monkeypatch.delenv("OPENMEM_NAMESPACE", raising=False)
    dotenv = tmp_path / ".env"
    dotenv.write_text("OPENMEM_PROVIDER=inmemory\nOPENMEM_NAMESPACE=from-dotenv\n")
    mem = AsyncMemory.from_env(dotenv=dotenv)
    assert mem.namespace == "from-dotenv"


def test_secrets_are_never_printed() -> None:
    resolved = resolve_config(
        kwargs={"provider": "inmemory", "embedder_api_key": "sk-very-secret"}, env={}
    )
    assert "sk-very-secret" not in repr(resolved)
    assert "sk-very-secret" not in str(resolved.provider_options)


def test_a_provider_instance_cannot_be_mixed_with_options() -> None:
    from openmem.inmemory import InMemoryProvider

    with pytest.raises(ConfigurationError, match="provider instance"):
        AsyncMemory(provider=InMemoryProvider(), embedder_dim=8)


def test_a_misspelled_variable_is_an_error_with_a_suggestion() -> None:
    env = {"OPENMEM_PROVIDER": "inmemory", "OPENMEM_NAMESPCE": "acme"}
    with pytest.raises(
        ConfigurationError, match=r"OPENMEM_NAMESPCE \(did you mean OPENMEM_NAMESPACE\?\)"
    ):
        resolve_config(env=env)


def test_a_misspelled_provider_variable_never_falls_back_to_the_default() -> None:
    with pytest.raises(ConfigurationError, match="did you mean OPENMEM_PROVIDER"):
        resolve_config(kwargs={"provider": "inmemory"}, env={"OPENMEM_PROVIDR": "mem0"})


def test_another_installed_providers_option_is_not_an_error() -> None:
    # One .env may serve several providers: OPENMEM_URL belongs to postgres, not inmemory.
    env = {"OPENMEM_PROVIDER": "inmemory", "OPENMEM_URL": "postgresql://db/x"}
    assert resolve_config(env=env).provider_name == "inmemory"


def test_asyncmemory_reads_dotenv_like_from_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENMEM_PROVIDER", raising=False)
    monkeypatch.delenv("OPENMEM_NAMESPACE", raising=False)
    (tmp_path / ".env").write_text("OPENMEM_PROVIDER=inmemory\nOPENMEM_NAMESPACE=dotenv-ns\n")
    monkeypatch.chdir(tmp_path)
    assert AsyncMemory().namespace == "dotenv-ns"
    assert AsyncMemory.from_env().namespace == "dotenv-ns"
    assert AsyncMemory.from_config({}).namespace == "dotenv-ns"
    monkeypatch.setenv("OPENMEM_NAMESPACE", "process-wins")
    assert AsyncMemory().namespace == "process-wins"


def test_a_misspelled_variable_in_dotenv_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("OPENMEM_PROVIDER=inmemory\nOPENMEM_EMBEDER_DIM=8\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="did you mean OPENMEM_EMBEDDER_DIM"):
        AsyncMemory()


BAD_OPTIONS = [
    ("inmemory", {"namespace": "a\x00b"}, "namespace"),
    ("inmemory", {"namespace": "   "}, "namespace"),
    ("inmemory", {"namespace": "x" * 257}, "namespace"),
    ("inmemory", {"namespace": "a\ud800"}, "namespace"),
    ("inmemory", {"app": "a\x00"}, "app"),
    ("inmemory", {"max_content_length": 0}, "max_content_length"),
    ("inmemory", {"embedder": "hashing", "embedder_dim": 0}, "embedder_dim"),
    ("inmemory", {"embedder": "hashing", "embedder_dim": -3}, "embedder_dim"),
    ("inmemory", {"embedder_batch_size": 0}, "embedder_batch_size"),
    ("inmemory", {"embedder_workers": 0}, "embedder_workers"),
    ("inmemory", {"embedder_model": "dir\x00name"}, "embedder_model"),
    ("inmemory", {"embedder_api_key": "sk\x00"}, "embedder_api_key"),
    ("passthrough", {"base_url": "http://x\x00y"}, "base_url"),
    ("passthrough", {"base_url": "http://x", "api_key": "k\x00"}, "api_key"),
]


@pytest.mark.parametrize(("provider", "options", "name"), BAD_OPTIONS)
def test_a_bad_option_value_is_refused_at_construction_by_name(
    provider: str, options: dict[str, object], name: str
) -> None:
    with pytest.raises(ConfigurationError, match=name):
        AsyncMemory(provider, **options)


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"namespace": "a\x00b"}, "namespace"),
        ({"namespace": ""}, "namespace"),
        ({"app": "\x00"}, "app"),
        ({"max_content_length": -1}, "max_content_length"),
    ],
)
def test_the_options_beside_a_provider_instance_are_validated_too(
    options: dict[str, object], name: str
) -> None:
    from openmem.inmemory import InMemoryProvider

    with pytest.raises(ConfigurationError, match=name):
        AsyncMemory(InMemoryProvider(), **options)


def test_a_nul_in_an_environment_option_is_refused_by_name() -> None:
    with pytest.raises(ConfigurationError, match="namespace"):
        resolve_config(env={"OPENMEM_PROVIDER": "inmemory", "OPENMEM_NAMESPACE": "a\x00"})


def test_a_nul_in_a_server_option_is_refused_by_name() -> None:
    from openmem.server.settings import load_server_settings

    with pytest.raises(ConfigurationError, match="namespace"):
        load_server_settings(flags={"namespace": "a\x00"}, env={})
