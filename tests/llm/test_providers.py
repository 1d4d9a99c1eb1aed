"""Which provider a model reference names: `provider/model` split, an app's configuration
before the server's, the server's from the environment, and providers kept per configuration."""

from __future__ import annotations

import pytest

from podium.config import Settings
from podium.llm.base import ModelNotConfigured
from podium.llm.offline import OfflineProvider
from podium.llm.providers import (
    _CACHE_SIZE,
    KINDS,
    OLLAMA_BASE_URL,
    OPENAI_BASE_URL,
    ProviderConfig,
    get_provider,
    resolve_model,
    server_providers,
    split_model_ref,
)

PROVIDER_ENV = (
    "PODIUM_OPENAI_BASE_URL",
    "PODIUM_OPENAI_API_KEY",
    "PODIUM_ANTHROPIC_BASE_URL",
    "PODIUM_ANTHROPIC_API_KEY",
    "PODIUM_OLLAMA_BASE_URL",
    "PODIUM_LLM_TIMEOUT_SECONDS",
    "PODIUM_LLM_MAX_RETRIES",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("offline/echo", ("offline", "echo")),
        ("openai/gpt-4o-mini", ("openai", "gpt-4o-mini")),
        ("ollama/llama3.2:3b", ("ollama", "llama3.2:3b")),
        ("openrouter/meta-llama/llama-3-8b", ("openrouter", "meta-llama/llama-3-8b")),
        ("mistral/a/b/c", ("mistral", "a/b/c")),
    ],
)
def test_a_model_reference_splits_at_its_first_slash(ref: str, expected: tuple[str, str]) -> None:
    assert split_model_ref(ref) == expected


@pytest.mark.parametrize("ref", ["gpt-4o", "/gpt-4o", "openai/", "", "/"])
def test_a_reference_without_provider_and_model_is_refused(ref: str) -> None:
    with pytest.raises(ModelNotConfigured) as refused:
        split_model_ref(ref)
    assert str(refused.value) == (
        f"model reference {ref!r} is not `provider/model`, e.g. `ollama/llama3.2`, "
        "`openai/gpt-4o-mini`, `anthropic/claude-sonnet-4-5` or `offline/echo`"
    )
    assert refused.value.code == "model_not_configured"


def test_server_providers_come_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PODIUM_OPENAI_BASE_URL", "http://openai.local/v1")
    clean_env.setenv("PODIUM_OPENAI_API_KEY", "sk-server")
    clean_env.setenv("PODIUM_ANTHROPIC_BASE_URL", "http://anthropic.local")
    clean_env.setenv("PODIUM_ANTHROPIC_API_KEY", "ak-server")
    clean_env.setenv("PODIUM_OLLAMA_BASE_URL", "http://gpu-box:11434/v1")
    clean_env.setenv("PODIUM_LLM_TIMEOUT_SECONDS", "12.5")
    clean_env.setenv("PODIUM_LLM_MAX_RETRIES", "4")
    configs = server_providers(Settings())
    assert sorted(configs) == sorted(KINDS)
    assert configs["openai"] == ProviderConfig(
        "openai", "openai", "http://openai.local/v1", "sk-server", 12.5, 4
    )
    assert configs["anthropic"] == ProviderConfig(
        "anthropic", "anthropic", "http://anthropic.local", "ak-server", 12.5, 4
    )
    assert configs["ollama"] == ProviderConfig(
        "ollama", "ollama", "http://gpu-box:11434/v1", None, 12.5, 4
    )
    assert configs["offline"] == ProviderConfig("offline", "offline")
    assert configs["openai"].retry.attempts == 5


def test_server_providers_have_defaults_without_an_environment(
    clean_env: pytest.MonkeyPatch,
) -> None:
    configs = server_providers(Settings())
    assert configs["openai"].base_url == OPENAI_BASE_URL == "https://api.openai.com/v1"
    assert configs["openai"].api_key is None
    assert configs["anthropic"].base_url is None  # the SDK's own default
    assert configs["ollama"].base_url == OLLAMA_BASE_URL == "http://localhost:11434/v1"
    assert configs["openai"].timeout_seconds == 60.0
    assert configs["openai"].max_retries == 2


def test_resolve_model_finds_the_server_configuration(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PODIUM_OPENAI_API_KEY", "sk-server")
    config, model = resolve_model("openai/gpt-4o-mini", {}, Settings())
    assert model == "gpt-4o-mini"
    assert (config.name, config.kind, config.api_key) == ("openai", "openai", "sk-server")
    offline, echo = resolve_model("offline/echo", {}, Settings())
    assert (offline.kind, echo) == ("offline", "echo")


def test_an_app_configuration_wins_over_the_server(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PODIUM_OPENAI_API_KEY", "sk-server")
    own = ProviderConfig("openai", "openai", "http://proxy.local/v1", "sk-app")
    config, model = resolve_model("openai/gpt-4o", {"openai": own}, Settings())
    assert config is own and model == "gpt-4o"


def test_an_app_may_name_a_provider_of_its_own(clean_env: pytest.MonkeyPatch) -> None:
    mistral = ProviderConfig("mistral", "openai", "https://api.mistral.ai/v1", "m-key")
    config, model = resolve_model("mistral/mistral-small-latest", {"mistral": mistral}, Settings())
    assert config is mistral and model == "mistral-small-latest"


def test_an_unknown_provider_is_refused_listing_the_known_ones(
    clean_env: pytest.MonkeyPatch,
) -> None:
    mistral = ProviderConfig("mistral", "openai", "https://api.mistral.ai/v1", "m-key")
    with pytest.raises(ModelNotConfigured) as refused:
        resolve_model("groq/llama-3", {"mistral": mistral}, Settings())
    assert str(refused.value) == (
        "model 'groq/llama-3' names provider 'groq', which is not configured; configure it "
        "under /apps/{app_id}/providers or use one of "
        "['anthropic', 'glm', 'huggingface', 'mistral', 'offline', 'ollama', 'openai', "
        "'openrouter']"
    )


def test_resolve_model_refuses_a_bad_reference() -> None:
    with pytest.raises(ModelNotConfigured, match="is not `provider/model`"):
        resolve_model("gpt-4o", {}, Settings())


def test_a_configuration_keeps_its_provider() -> None:
    config = ProviderConfig("t-offline-keep", "offline")
    provider = get_provider(config)
    assert isinstance(provider, OfflineProvider)
    assert get_provider(config) is provider
    assert get_provider(ProviderConfig("t-offline-keep", "offline")) is provider  # equal config
    assert get_provider(ProviderConfig("t-offline-other", "offline")) is not provider


def test_a_changed_configuration_gets_a_new_provider() -> None:
    before = get_provider(ProviderConfig("t-changed", "openai", "http://a/v1", "k1"))
    after = get_provider(ProviderConfig("t-changed", "openai", "http://a/v1", "k2"))
    assert after is not before


def test_the_least_recently_used_provider_is_dropped_past_the_cache_size() -> None:
    kept = ProviderConfig("t-lru-kept", "offline")
    dropped = ProviderConfig("t-lru-dropped", "offline")
    first_dropped = get_provider(dropped)
    first_kept = get_provider(kept)
    for index in range(_CACHE_SIZE - 1):
        get_provider(ProviderConfig(f"t-lru-{index}", "offline"))
        get_provider(kept)  # used all along: stays
    assert get_provider(kept) is first_kept
    assert get_provider(dropped) is not first_dropped


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ModelNotConfigured) as refused:
        get_provider(ProviderConfig("t-weird", "carrier-pigeon"))
    assert str(refused.value) == (
        "provider 't-weird' has kind 'carrier-pigeon'; the kinds are "
        "['openai', 'anthropic', 'ollama', 'offline']"
    )
