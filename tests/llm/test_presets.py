"""Provider presets: `openrouter/…`, `mistral/…`, `glm/…` and `huggingface/…` are the
OpenAI-compatible provider with the service's base URL and the key of its own variable; each
resolves and calls a fake OpenAI-wire server (its base URL overridden onto loopback) at the
service's path, with its key."""

from __future__ import annotations

import pytest

from podium.config import Settings
from podium.llm.base import Message, ModelRequest, ProviderError, RetryPolicy
from podium.llm.openai import OpenAIProvider
from podium.llm.providers import (
    PRESETS,
    configured_presets,
    preset_config,
    preset_default_model,
    resolve_model,
)
from support.fake_openai import FakeOpenAI

FAST = RetryPolicy(attempts=2, base_seconds=0.01, max_seconds=0.02)

# name → (the service's base URL, the path of its API, a model reference)
SERVICES = {
    "openrouter": (
        "https://openrouter.ai/api/v1",
        "/api/v1",
        "openrouter/meta-llama/llama-3.1-8b-instruct",
    ),
    "mistral": ("https://api.mistral.ai/v1", "/v1", "mistral/mistral-small-latest"),
    "glm": ("https://api.z.ai/api/paas/v4", "/api/paas/v4", "glm/glm-4.5-flash"),
    "huggingface": (
        "https://router.huggingface.co/v1",
        "/v1",
        "huggingface/Qwen/Qwen2.5-7B-Instruct",
    ),
}


def test_every_preset_is_listed_with_its_service() -> None:
    assert sorted(PRESETS) == sorted(SERVICES)
    for name, (base_url, _, _) in SERVICES.items():
        config = preset_config(name, Settings())
        assert config is not None
        assert (config.name, config.kind, config.base_url) == (name, "openai", base_url)
        assert config.api_key is None
        assert PRESETS[name].key_variable == f"PODIUM_{name.upper()}_API_KEY"
    assert preset_config("groq", Settings()) is None


def test_the_key_comes_from_the_presets_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_OPENROUTER_API_KEY", "or-key")
    monkeypatch.setenv("PODIUM_GLM_BASE_URL", "https://open.bigmodel.cn/api/paas/v4")
    settings = Settings()
    config, model = resolve_model("openrouter/anthropic/claude-3.5-haiku", {}, settings)
    assert (config.name, config.api_key, model) == (
        "openrouter",
        "or-key",
        "anthropic/claude-3.5-haiku",
    )
    glm, _ = resolve_model("glm/glm-4.5", {}, settings)
    assert glm.base_url == "https://open.bigmodel.cn/api/paas/v4"
    # Only the presets the server has a key (or its own URL) for are listed for health checks.
    assert sorted(configured_presets(settings)) == ["glm", "openrouter"]


def test_an_apps_own_configuration_of_the_name_wins() -> None:
    own = resolve_model("mistral/x", {"mistral": preset_config("mistral", Settings())}, Settings())
    assert own[0].base_url == "https://api.mistral.ai/v1"


def test_default_models_for_a_provider_named_alone() -> None:
    assert preset_default_model("mistral") == "mistral-small-latest"
    assert preset_default_model("offline") == "echo"
    assert preset_default_model("huggingface") is None  # too many to pick one
    assert preset_default_model("acme") is None


@pytest.mark.parametrize("name", sorted(SERVICES))
async def test_a_preset_calls_its_path_with_its_key(name: str) -> None:
    _, path, ref = SERVICES[name]
    key = f"{name}-secret-key"
    with FakeOpenAI(api_key=key, root_path=path) as server:
        server.reply_text("Hello from the preset")
        settings = Settings(**{f"{name}_api_key": key, f"{name}_base_url": server.base_url})
        config, model = resolve_model(ref, {}, settings)
        provider = OpenAIProvider(config, retry=FAST)
        try:
            answer = await provider.complete(ModelRequest(model, [Message("user", "hi")]))
        finally:
            await provider.aclose()
        assert answer.text == "Hello from the preset"
        (received,) = server.requests
        assert received.path == f"{path}/chat/completions"
        assert received.headers["authorization"] == f"Bearer {key}"
        assert received.body["model"] == ref.partition("/")[2]


async def test_a_preset_without_its_key_says_which_variable() -> None:
    with FakeOpenAI(api_key="needed") as server:
        settings = Settings(mistral_base_url=server.base_url)
        config, model = resolve_model("mistral/mistral-small-latest", {}, settings)
        provider = OpenAIProvider(config, retry=FAST)
        try:
            with pytest.raises(ProviderError) as refused:
                await provider.complete(ModelRequest(model, [Message("user", "hi")]))
        finally:
            await provider.aclose()
    assert refused.value.status == 401
    assert str(refused.value).endswith(
        "(no API key is configured for provider 'mistral'; set PODIUM_MISTRAL_API_KEY)"
    )
