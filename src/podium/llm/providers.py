"""Provider configurations, and which provider a model reference (`provider/model`) names.

A configuration is server-wide (from the environment: `PODIUM_OPENAI_BASE_URL`,
`PODIUM_OPENAI_API_KEY`, `PODIUM_ANTHROPIC_API_KEY`, …) or an app's own (stored, its key
encrypted). An app's configuration of the same name wins. Its `name` is what model
references use: an app may configure `mistral` of kind `openai` with Mistral's base URL and
then use `mistral/mistral-small-latest`.
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
    config = app_configs.get(provider) or server_providers(settings).get(provider)
    if config is None:
        known = sorted(set(app_configs) | set(KINDS))
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
