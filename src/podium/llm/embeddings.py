"""Embeddings: a vector per text, from any server speaking OpenAI's `/embeddings` (OpenAI,
Ollama, vLLM, …) through the official `openai` SDK.

An embeddings model is a model reference (`openai/text-embedding-3-small`,
`ollama/nomic-embed-text`) resolved like a chat model: the app's provider configuration of
that name, else the server's (`PODIUM_OPENAI_BASE_URL`, `PODIUM_OLLAMA_BASE_URL`, …). The
client is the chat provider's (`podium.llm.openai`): the egress-guarded HTTP client, the
configured timeout, retries of 429, 5xx and timeouts, and errors that name the provider and
model without echoing the server's body.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import TYPE_CHECKING, Any

from podium.llm.base import ModelNotConfigured, ProviderError
from podium.llm.providers import ProviderConfig, get_provider, load_provider_module, resolve_model

if TYPE_CHECKING:
    from podium.config import Settings
    from podium.llm.openai import OpenAIProvider

EMBEDDING_KINDS = ("openai", "ollama")
# Texts per request: servers bound the inputs of one call (OpenAI: 2,048).
BATCH = 256


class Embedder:
    """One embeddings model of one provider: `await embed(texts)` → a vector per text."""

    def __init__(self, provider: OpenAIProvider, model: str) -> None:
        self.provider = provider
        self.model_name = model
        self.model = f"{provider.name}/{model}"  # the reference, for messages

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """A vector per text, in order. Raises ProviderError naming provider and model."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            vectors += await self._with_retries(texts[start : start + BATCH])
        return vectors

    async def _with_retries(self, texts: list[str]) -> list[list[float]]:
        policy, attempt = self.provider.retry, 1
        while True:
            try:
                return await self._call(texts)
            except ProviderError as exc:
                if not exc.retryable or attempt >= policy.attempts:
                    raise
            await asyncio.sleep(policy.delay(attempt))
            attempt += 1

    async def _call(self, texts: list[str]) -> list[list[float]]:
        import httpx2
        import openai

        client = self.provider._sdk()
        try:
            response = await client.embeddings.create(
                model=self.model_name, input=texts, encoding_format="float"
            )
        except (openai.OpenAIError, httpx2.HTTPError, json.JSONDecodeError) as exc:
            raise self.provider._error(exc, self.model_name, streamed=False) from exc
        return self._vectors(response, len(texts))

    def _vectors(self, response: Any, count: int) -> list[list[float]]:
        data = sorted(getattr(response, "data", None) or [], key=lambda item: item.index)
        vectors = [list(item.embedding) for item in data]
        problem = None
        if len(vectors) != count:
            problem = f"it answered {len(vectors)} vectors for {count} texts"
        elif len({len(vector) for vector in vectors}) > 1 or not vectors[0]:
            problem = "its vectors are empty or of different lengths"
        elif not all(
            isinstance(x, int | float) and math.isfinite(x) for vector in vectors for x in vector
        ):
            problem = "its vectors hold values that are not finite numbers"
        if problem is not None:
            raise ProviderError(
                self.provider.name,
                self.model_name,
                f"the embeddings answer is not usable: {problem}",
            )
        return vectors


async def embedder(
    ref: str, app_configs: dict[str, ProviderConfig], settings: Settings
) -> Embedder:
    """The embeddings model `ref` (`provider/model`) of an app with these provider
    configurations. Raises ModelNotConfigured for a provider that is unknown or whose kind
    has no embeddings (Anthropic, offline)."""
    config, model = resolve_model(ref, app_configs, settings)
    if config.kind not in EMBEDDING_KINDS:
        raise ModelNotConfigured(
            f"embeddings model {ref!r} names provider {config.name!r} of kind {config.kind!r}, "
            f"which has no embeddings; use a provider of kind {' or '.join(EMBEDDING_KINDS)}, "
            "e.g. openai/text-embedding-3-small or ollama/nomic-embed-text"
        )
    await load_provider_module(config.kind)
    from podium.llm.openai import OpenAIProvider

    provider = get_provider(config)
    assert isinstance(provider, OpenAIProvider)
    return Embedder(provider, model)
