"""Provider configurations, and which provider a model reference (`provider/model`) names.

A configuration is server-wide (from the environment: `PODIUM_OPENAI_BASE_URL`,
`PODIUM_OPENAI_API_KEY`, `PODIUM_ANTHROPIC_API_KEY`, …) or an app's own (stored, its key
encrypted). An app's configuration of the same name wins. Its `name` is what model
references use: an app may configure `acme` of kind `openai` with its server's base URL and
then use `acme/some-model`.

Presets are named OpenAI-compatible services whose base URL is known (`openrouter`,
`mistral`, `glm`, `huggingface`): `mistral/mistral-small-latest` works once
`PODIUM_MISTRAL_API_KEY` is set (or an app configures `mistral` with its own key).
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podium.llm.base import ModelNotConfigured, Provider, RetryPolicy

if TYPE_CHECKING:
    from podium.config import Settings

KINDS = ("openai", "anthropic", "ollama", "offline")
OLLAMA_BASE_URL = "http://localhost:11434/v1"
OPENAI_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """How to reach one provider. `kind` picks the wire protocol; `ollama` is `openai` with
    a local base URL and no key."""

    name: str
    kind: str
    base_url: str | None = None
    api_key: str | None = None
    timeout_seconds: float = 60.0
    max_retries: int = 2

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(attempts=self.max_retries + 1)


@dataclass(frozen=True, slots=True)
class Preset:
    """An OpenAI-compatible service by name: its base URL (`PODIUM_<NAME>_BASE_URL`
    overrides it) and key (`PODIUM_<NAME>_API_KEY`), and the model used when only the
    provider is named (the editor protocol's `provider_id`)."""

    name: str
    base_url: str
    default_model: str | None = None

    @property
    def key_variable(self) -> str:
        return f"PODIUM_{self.name.upper()}_API_KEY"


PRESETS = {
    preset.name: preset
    for preset in (
        Preset("openrouter", "https://openrouter.ai/api/v1", "openrouter/auto"),
        Preset("mistral", "https://api.mistral.ai/v1", "mistral-small-latest"),
        Preset("glm", "https://api.z.ai/api/paas/v4", "glm-4.5-flash"),
        Preset("huggingface", "https://router.huggingface.co/v1"),
    )
}
# What `provider_id` alone means for the providers that are not presets.
_DEFAULT_MODELS = {"offline": "echo"}


def preset_default_model(provider: str) -> str | None:
    """The model a provider named alone stands for, if it has one."""
    preset = PRESETS.get(provider)
    return preset.default_model if preset is not None else _DEFAULT_MODELS.get(provider)


def preset_config(name: str, settings: Settings) -> ProviderConfig | None:
    """The server-wide configuration of a preset (None for another name)."""
    preset = PRESETS.get(name)
    if preset is None:
        return None
    return ProviderConfig(
        name,
        "openai",
        getattr(settings, f"{name}_base_url", None) or preset.base_url,
        getattr(settings, f"{name}_api_key", None),
        settings.llm_timeout_seconds,
        settings.llm_max_retries,
    )


def configured_presets(settings: Settings) -> dict[str, ProviderConfig]:
    """The presets this server has a key (or its own base URL) for."""
    configs = {name: preset_config(name, settings) for name in PRESETS}
    return {
        name: config
        for name, config in configs.items()
        if config is not None and (config.api_key or getattr(settings, f"{name}_base_url", None))
    }


def server_providers(settings: Settings) -> dict[str, ProviderConfig]:
    """The server-wide configurations, from the environment (always all four kinds)."""
    timeout, retries = settings.llm_timeout_seconds, settings.llm_max_retries
    return {
        "openai": ProviderConfig(
            "openai",
            "openai",
            settings.openai_base_url or OPENAI_BASE_URL,
            settings.openai_api_key,
            timeout,
            retries,
        ),
        "anthropic": ProviderConfig(
            "anthropic",
            "anthropic",
            settings.anthropic_base_url,
            settings.anthropic_api_key,
            timeout,
            retries,
        ),
        "ollama": ProviderConfig(
            "ollama", "ollama", settings.ollama_base_url or OLLAMA_BASE_URL, None, timeout, retries
        ),
        "offline": ProviderConfig("offline", "offline"),
    }


def split_model_ref(ref: str) -> tuple[str, str]:
    """`provider/model` → (provider, model). The model part may hold more slashes
    (`openrouter/meta-llama/llama-3-8b`)."""
    provider, slash, model = ref.partition("/")
    if not slash or not provider or not model:
        raise ModelNotConfigured(
            f"model reference {ref!r} is not `provider/model`, e.g. `ollama/llama3.2`, "
            "`openai/gpt-4o-mini`, `anthropic/claude-sonnet-4-5` or `offline/echo`"
        )
    return provider, model


def resolve_model(
    ref: str, app_configs: dict[str, ProviderConfig], settings: Settings
) -> tuple[ProviderConfig, str]:
    """The configuration that serves `ref`, and the provider's own model name."""
    provider, model = split_model_ref(ref)
    config = (
        app_configs.get(provider)
        or server_providers(settings).get(provider)
        or preset_config(provider, settings)
    )
    if config is None:
        known = sorted(set(app_configs) | set(KINDS) | set(PRESETS))
        raise ModelNotConfigured(
            f"model {ref!r} names provider {provider!r}, which is not configured; configure it "
            f"under /apps/{{app_id}}/providers or use one of {known}"
        )
    return config, model


_CACHE: OrderedDict[ProviderConfig, Provider] = OrderedDict()
_CACHE_SIZE = 64


def get_provider(config: ProviderConfig) -> Provider:
    """The provider for a configuration; clients are kept (an SDK client holds a pool)."""
    provider = _CACHE.get(config)
    if provider is not None:
        _CACHE.move_to_end(config)
        return provider
    provider = _build(config)
    _CACHE[config] = provider
    while len(_CACHE) > _CACHE_SIZE:
        _, evicted = _CACHE.popitem(last=False)
        _close_soon(evicted)
    return provider


def _close_soon(provider: Provider) -> None:
    """Close an evicted provider's client in the background (when a loop runs)."""
    close = getattr(provider, "aclose", None)
    if close is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    task = loop.create_task(close())
    _CLOSING.add(task)
    task.add_done_callback(_CLOSING.discard)


_CLOSING: set[asyncio.Task[None]] = set()


async def close_providers() -> None:
    """Close the kept providers' SDK clients (at shutdown): their connection pools belong to
    the event loop that is ending. A provider used again makes a new client."""
    closing = [p.aclose() for p in _CACHE.values() if hasattr(p, "aclose")]
    await asyncio.gather(*closing, return_exceptions=True)


_MODULES = {"openai": "podium.llm.openai", "ollama": "podium.llm.openai"}
_MODULES["anthropic"] = "podium.llm.anthropic"


async def load_provider_module(kind: str) -> None:
    """Import a provider's module (and its SDK) off the event loop: importing `anthropic` or
    `openai` takes seconds, which on the loop would stop every run's heartbeat meanwhile."""
    module = _MODULES.get(kind)
    if module is not None and module not in sys.modules:
        await asyncio.to_thread(importlib.import_module, module)


def _build(config: ProviderConfig) -> Provider:
    if config.kind == "offline":
        from podium.llm.offline import OfflineProvider

        return OfflineProvider()
    if config.kind in ("openai", "ollama"):
        from podium.llm.openai import OpenAIProvider

        return OpenAIProvider(config)
    if config.kind == "anthropic":
        from podium.llm.anthropic import AnthropicProvider

        return AnthropicProvider(config)
    raise ModelNotConfigured(
        f"provider {config.name!r} has kind {config.kind!r}; the kinds are {list(KINDS)}"
    )
