"""Hybrid search with an embeddings model, against a fake server speaking OpenAI's
`/v1/embeddings` on loopback (support.fake_embeddings): chunks get vectors at ingest, a
search fuses the full-text and the vector rankings (reciprocal rank fusion), and so finds a
document by a synonym that full text misses. Embedding failures store nothing and name the
provider and model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from podium import egress
from podium.config import Settings
from podium.errors import KnowledgeInvalid, UpstreamFailed
from podium.knowledge.service import Embedder, KnowledgeService, fuse
from podium.llm import embeddings
from podium.llm.providers import ProviderConfig, close_providers
from podium.storage.knowledge import ChunkHit
from podium.storage.script import all_rows
from podium.storage.store import Store
from support.fake_embeddings import FakeEmbeddings

DOCS = [
    {"key": "tyres", "text": "Check the automobile's tyre pressure every month."},
    {"key": "doctor", "text": "See a physician when a fever lasts more than three days."},
    {"key": "cinema", "text": "The picture house shows old movies on Sundays."},
    {"key": "bread", "text": "Knead the dough for ten minutes, then let it rise."},
    {"key": "car-wash", "text": "The car wash on Main Street opens at eight."},
]


@pytest.fixture(autouse=True)
def loopback_allowed() -> Iterator[None]:
    egress.configure(Settings(egress_allow=["127.0.0.1"]))
    yield
    egress.configure(None)


@pytest.fixture
async def fake() -> AsyncIterator[FakeEmbeddings]:
    with FakeEmbeddings() as server:
        yield server
        await close_providers()  # the SDK clients' connections belong to this test's loop


def hybrid(
    store: Store, settings: Settings, fake: FakeEmbeddings, model: str = "openai/fake-embed"
) -> KnowledgeService:
    configs = {
        "openai": ProviderConfig("openai", "openai", fake.base_url, fake.api_key, max_retries=0)
    }

    async def embedder_for(app_id: str) -> Embedder | None:
        return await embeddings.embedder(model, configs, settings)

    return KnowledgeService(store, settings, embedder_for=embedder_for)


def keys(result: dict[str, Any]) -> list[str]:
    return [hit["key"] for hit in result["hits"]]


async def vectors_stored(store: Store) -> int:
    def count() -> Any:
        rows = yield all_rows("SELECT count(*) AS n FROM knowledge_chunks WHERE vector IS NOT NULL")
        return rows[0]["n"]

    return int(await store.run_read(count))


async def test_hybrid_finds_a_synonym_that_full_text_misses(
    store: Store, settings: Settings, fake: FakeEmbeddings
) -> None:
    app_id = await store.ensure_app("a")
    knowledge = hybrid(store, settings, fake)
    written = await knowledge.put_documents(app_id, "kb", DOCS)
    assert len(written["documents"]) == 5
    assert await vectors_stored(store) == 5
    assert fake.count == 1 and len(fake.requests[0].body["input"]) == 5
    assert fake.requests[0].body["model"] == "fake-embed"

    text_only = KnowledgeService(store, settings)
    found = await text_only.search(app_id, "kb", "automobile physician")
    assert sorted(keys(found)) == ["doctor", "tyres"]
    # "vehicle" is in no document: full text finds nothing, the vectors find the automobile.
    assert keys(await text_only.search(app_id, "kb", "vehicle")) == []
    result = await knowledge.search(app_id, "kb", "vehicle", k=2)
    assert (result["mode"], result["note"]) == ("hybrid", None)
    assert keys(result)[0] == "tyres"
    assert result["hits"][0]["matched"] == []  # found by meaning, not by a word
    # The fused score is reciprocal rank fusion: 1/(60 + rank) summed over the rankings.
    assert result["hits"][0]["score"] == pytest.approx(1 / 61)
    # A chunk that both rankings put first scores from both.
    both = await knowledge.search(app_id, "kb", "car wash opens", k=3)
    assert keys(both)[0] == "car-wash"
    assert both["hits"][0]["score"] == pytest.approx(2 / 61)
    assert both["hits"][0]["matched"] == ["car", "wash", "opens"]


async def test_a_failing_embeddings_model_stores_nothing(
    store: Store, settings: Settings, fake: FakeEmbeddings
) -> None:
    app_id = await store.ensure_app("a")
    knowledge = hybrid(store, settings, fake)
    fake.reply_error(500, "the GPU caught fire")
    with pytest.raises(UpstreamFailed) as failed:
        await knowledge.put_documents(app_id, "kb", DOCS)
    message = failed.value.message
    assert message.startswith(
        "the embeddings model 'openai/fake-embed' failed (no document was stored): "
        "provider 'openai', model 'fake-embed' (HTTP 500)"
    )
    assert "GPU" not in message  # the server's own words are not echoed
    assert await knowledge.list_namespaces(app_id) == []
    await knowledge.put_documents(app_id, "kb", DOCS)
    fake.reply_error(401, "bad key")
    with pytest.raises(UpstreamFailed, match="the search did not run"):
        await knowledge.search(app_id, "kb", "vehicle")


async def test_a_model_that_cannot_embed_is_refused(
    store: Store, settings: Settings, fake: FakeEmbeddings
) -> None:
    app_id = await store.ensure_app("a")
    for model, phrase in (
        ("anthropic/claude-sonnet-4-5", "of kind 'anthropic', which has no embeddings"),
        ("nowhere/model", "names provider 'nowhere', which is not configured"),
    ):
        knowledge = hybrid(store, settings, fake, model)
        with pytest.raises(KnowledgeInvalid, match=phrase) as refused:
            await knowledge.put_documents(app_id, "kb", DOCS)
        assert "PATCH /api/v1/apps/{app}" in refused.value.message
    assert fake.count == 0


async def test_vectors_of_another_dimension_are_left_out(
    store: Store, settings: Settings, fake: FakeEmbeddings
) -> None:
    """Documents embedded by an earlier model (another length) do not break a search."""
    app_id = await store.ensure_app("a")
    await hybrid(store, settings, fake).put_documents(app_id, "kb", DOCS[:1])

    class Shorter:
        model = "openai/short"

        async def embed(self, texts: list[str]) -> list[list[float]]:
            return [[1.0, 0.0, 0.0] for _ in texts]

    async def shorter(app_id: str) -> Embedder | None:
        return Shorter()

    knowledge = KnowledgeService(store, settings, embedder_for=shorter)
    await knowledge.put_documents(app_id, "kb", DOCS[1:2])
    result = await knowledge.search(app_id, "kb", "tyre", k=5)
    assert keys(result) == ["tyres", "doctor"]  # text found the first, vectors the second


def test_reciprocal_rank_fusion() -> None:
    def hit(chunk_id: int) -> ChunkHit:
        return ChunkHit(chunk_id, "ns", f"k{chunk_id}", 0, "", {}, 0.0)

    fused = fuse([[hit(1), hit(2), hit(3)], [hit(3), hit(1)]], 3)
    assert [h.id for h in fused] == [1, 3, 2]
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 62)
    assert fused[1].score == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2].score == pytest.approx(1 / 62)
    assert [h.id for h in fuse([[hit(1), hit(2)], []], 1)] == [1]
