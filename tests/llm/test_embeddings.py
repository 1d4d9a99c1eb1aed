"""Embeddings over OpenAI's wire protocol (a fake `/v1/embeddings` server on loopback):
vectors in the order asked, large inputs sent in batches, retries of a 5xx, and errors that
name the provider and model."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from podium.config import Settings
from podium.llm import embeddings
from podium.llm.base import ModelNotConfigured, ProviderError
from podium.llm.providers import ProviderConfig, close_providers
from support.fake_embeddings import FakeEmbeddings, vector


@pytest.fixture
async def fake() -> AsyncIterator[FakeEmbeddings]:
    with FakeEmbeddings() as server:
        yield server
        await close_providers()


def configs(fake: FakeEmbeddings, retries: int = 0) -> dict[str, ProviderConfig]:
    return {
        "openai": ProviderConfig(
            "openai", "openai", fake.base_url, fake.api_key, max_retries=retries
        )
    }


async def test_vectors_come_in_order_and_in_batches(fake: FakeEmbeddings) -> None:
    embedder = await embeddings.embedder("openai/fake-embed", configs(fake), Settings())
    assert embedder.model == "openai/fake-embed"
    texts = [f"text number {i}" for i in range(embeddings.BATCH + 10)]
    vectors = await embedder.embed(texts)
    assert vectors[0] == pytest.approx(vector(texts[0]))
    assert vectors[-1] == pytest.approx(vector(texts[-1]))
    assert [len(r.body["input"]) for r in fake.requests] == [embeddings.BATCH, 10]
    assert fake.requests[0].headers["authorization"] == "Bearer sk-test"
    assert fake.requests[0].body["encoding_format"] == "float"


async def test_a_server_error_is_retried_then_named(fake: FakeEmbeddings) -> None:
    embedder = await embeddings.embedder("openai/fake-embed", configs(fake, 1), Settings())
    fake.reply_error(503, "busy")
    assert len(await embedder.embed(["one"])) == 1
    assert fake.count == 2
    fake.reply_error(400, "no such model")
    with pytest.raises(ProviderError, match=r"provider 'openai', model 'fake-embed' \(HTTP 400\)"):
        await embedder.embed(["one"])


async def test_an_unusable_answer_is_an_error(fake: FakeEmbeddings) -> None:
    embedder = await embeddings.embedder("openai/fake-embed", configs(fake), Settings())
    fake.short_answers = True
    with pytest.raises(ProviderError, match="it answered 1 vectors for 2 texts"):
        await embedder.embed(["one", "two"])


async def test_a_provider_without_embeddings_is_refused() -> None:
    with pytest.raises(ModelNotConfigured, match="of kind 'anthropic', which has no embeddings"):
        await embeddings.embedder("anthropic/claude-sonnet-4-5", {}, Settings())
    with pytest.raises(ModelNotConfigured, match="is not `provider/model`"):
        await embeddings.embedder("nomic-embed-text", {}, Settings())
