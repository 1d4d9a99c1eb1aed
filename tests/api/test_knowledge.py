"""The knowledge store over HTTP: `/apps/{app}/knowledge/…` — a batch written and read back,
paging, search with a filter, roles, events, and every bad input answered with a message a
user can act on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.api.conftest import Actor, add_member, api_settings

from podium.config import Settings
from support.fake_embeddings import FakeEmbeddings

DOCS = [
    {
        "key": "guides/refunds.md",
        "text": "Refunds are paid within fourteen days.",
        "metadata": {"tier": "hot"},
    },
    {
        "key": "guides/shipping.md",
        "text": "Parcels leave the Lyon warehouse daily.",
        "metadata": {"tier": "cold"},
    },
    {"key": "warranty", "text": "The warranty covers defects and refunds for two years."},
]


@pytest.fixture
def api_config(database_url: str) -> Settings:
    return api_settings(
        database_url,
        knowledge_max_batch_documents=5,
        knowledge_max_document_bytes=2_000,
        knowledge_max_batch_bytes=20_000,
        knowledge_max_k=10,
        knowledge_progress_every=2,
        egress_allow=["127.0.0.1"],  # the fake embeddings server
    )


@pytest.fixture
def owner(make_user: Any) -> Actor:
    return make_user("olga")


@pytest.fixture
def base(owner: Actor) -> str:
    return f"/api/v1/apps/{owner.create_app('kb-app')}/knowledge"


def error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["error"]["message"])


def test_write_read_list_search_delete(owner: Actor, base: str) -> None:
    written = owner.post(f"{base}/help/documents", {"documents": DOCS})
    assert written.status_code == 200, written.text
    assert [(d["key"], d["chunks"]) for d in written.json()["documents"]] == [
        ("guides/refunds.md", 1),
        ("guides/shipping.md", 1),
        ("warranty", 1),
    ]
    assert owner.get(base).json() == [{"namespace": "help", "documents": 3, "chunks": 3}]

    document = owner.get(f"{base}/help/documents/guides/refunds.md").json()
    assert document["text"] == DOCS[0]["text"] and document["metadata"] == {"tier": "hot"}
    assert document["actor"] == owner.user["id"]

    page = owner.get(f"{base}/help/documents", params={"limit": 2}).json()
    assert [d["key"] for d in page["items"]] == ["guides/refunds.md", "guides/shipping.md"]
    rest = owner.get(f"{base}/help/documents", params={"cursor": page["next_cursor"]}).json()
    assert [d["key"] for d in rest["items"]] == ["warranty"] and rest["next_cursor"] is None

    found = owner.get(f"{base}/help/search", params={"q": "refunds paid", "k": 3}).json()
    assert found["mode"] == "text" and "embedding_model" in found["note"]
    assert [hit["key"] for hit in found["hits"]] == ["guides/refunds.md", "warranty"]
    assert found["hits"][0]["matched"] == ["refunds", "paid"]
    hot = owner.get(
        f"{base}/help/search", params={"q": "refunds", "filter": json.dumps({"tier": "hot"})}
    ).json()
    assert [hit["key"] for hit in hot["hits"]] == ["guides/refunds.md"]

    assert owner.delete(f"{base}/help/documents/guides/refunds.md").status_code == 204
    assert "no document 'guides/refunds.md'" in error(
        owner.get(f"{base}/help/documents/guides/refunds.md"), 404
    )
    assert "no document" in error(owner.delete(f"{base}/help/documents/guides/refunds.md"), 404)


def test_events_of_a_batch(owner: Actor, base: str) -> None:
    batch = [{"key": f"d{i}", "text": f"note number {i}"} for i in range(5)]
    assert owner.post(f"{base}/bulk/documents", {"documents": batch}).status_code == 200
    app_base = base.removesuffix("/knowledge")
    events = owner.get(f"{app_base}/events", params={"limit": 1000}).json()["items"]
    progress = [e["data"] for e in events if e["type"] == "knowledge.ingest.progress"]
    assert [(p["done"], p["total"]) for p in progress] == [(2, 5), (4, 5)]
    [ingested] = [e["data"] for e in events if e["type"] == "knowledge.ingested"]
    assert ingested["documents"] == 5 and ingested["actor"] == owner.user["id"]


def test_viewers_read_and_members_write(owner: Actor, base: str, make_user: Any) -> None:
    viewer, member = make_user("vera"), make_user("mo")
    app_base = base.removesuffix("/knowledge")
    add_member(owner, app_base, viewer, "viewer")
    add_member(owner, app_base, member, "member")
    assert member.post(f"{base}/help/documents", {"documents": DOCS}).status_code == 200
    assert viewer.post(f"{base}/help/documents", {"documents": DOCS}).status_code == 403
    assert viewer.delete(f"{base}/help/documents/warranty").status_code == 403
    assert viewer.get(f"{base}/help/documents/warranty").status_code == 200
    assert viewer.get(f"{base}/help/search", params={"q": "warranty"}).json()["hits"]
    assert member.delete(f"{base}/help/documents/warranty").status_code == 204


def test_bad_input_is_answered_with_what_to_change(owner: Actor, base: str) -> None:
    owner.post(f"{base}/help/documents", {"documents": DOCS})
    search = f"{base}/help/search"

    assert "the query is empty" in error(owner.get(search, params={"q": " "}), 422)
    assert "the query is empty" in error(owner.get(search), 422)
    assert "from 1 to 10 (PODIUM_KNOWLEDGE_MAX_K), not 11" in error(
        owner.get(search, params={"q": "refunds", "k": 11}), 422
    )
    assert "not 0" in error(owner.get(search, params={"q": "refunds", "k": 0}), 422)
    message = error(owner.get(f"{base}/nope/search", params={"q": "refunds"}), 404)
    assert message.startswith("knowledge namespace 'nope' has no documents in this app")
    assert "'nope' has no documents" in error(owner.get(f"{base}/nope/documents"), 404)
    message = error(owner.get(search, params={"q": "refunds", "filter": "{tier: hot}"}), 422)
    assert message.startswith("the filter (a JSON object in the query string): not valid JSON")
    assert "compares top-level metadata keys" in error(
        owner.get(search, params={"q": "refunds", "filter": '{"tier": ["hot"]}'}), 422
    )

    documents = f"{base}/help/documents"
    message = error(owner.post(f"{base}/_agents/documents", {"documents": DOCS}), 422)
    assert message.startswith("namespace '_agents' is reserved: names starting with _ belong")
    assert "reserved" in error(owner.get(f"{base}/_memory/search", params={"q": "x"}), 422)
    assert "namespace 'bad name' is not valid" in error(
        owner.get(f"{base}/bad name/search", params={"q": "x"}), 422
    )
    big = {"key": "big", "text": "x" * 2_100}
    message = error(owner.post(documents, {"documents": [big]}), 413)
    assert "document 'big' is 2102 bytes" in message
    assert "PODIUM_KNOWLEDGE_MAX_DOCUMENT_BYTES" in message
    six = [{"key": f"k{i}", "text": "t"} for i in range(6)]
    message = error(owner.post(documents, {"documents": six}), 422)
    assert "the batch has 6 documents, over the limit of 5" in message
    huge = [{"key": f"k{i}", "text": "y" * 1_900} for i in range(5)] * 3
    message = error(owner.post(documents, {"documents": huge}), 413)
    assert message == (
        "the request body is over the limit of 20000 bytes "
        "(PODIUM_KNOWLEDGE_MAX_BATCH_BYTES); send the documents in several batches"
    )
    assert "'k' is in the batch twice" in error(
        owner.post(documents, {"documents": [{"key": "k", "text": "a"}] * 2}), 422
    )
    assert "document key '../x' is not valid" in error(
        owner.post(documents, {"documents": [{"key": "../x", "text": "a"}]}), 422
    )
    assert "documents: List should have at least 1 item" in error(
        owner.post(documents, {"documents": []}), 422
    )
    assert "overlap_chars is a whole number" in error(
        owner.post(documents, {"documents": DOCS, "chunk_chars": 200, "overlap_chars": 150}), 422
    )
    # Nothing of the refused batches was written.
    assert owner.get(base).json() == [{"namespace": "help", "documents": 3, "chunks": 3}]


def test_hybrid_search_with_the_apps_embeddings_model(owner: Actor, base: str) -> None:
    app_base = base.removesuffix("/knowledge")
    with FakeEmbeddings() as fake:
        provider = {"kind": "openai", "base_url": fake.base_url, "api_key": fake.api_key}
        provider["max_retries"] = 0
        put = owner.client.put(
            f"{app_base}/providers/embedder", json=provider, headers=owner.headers
        )
        assert put.status_code == 200, put.text
        patched = owner.patch(app_base, {"embedding_model": "embedder/fake-embed"})
        assert patched.status_code == 200 and patched.json()["embedding_model"] == (
            "embedder/fake-embed"
        )
        cars = [
            {"key": "tyres", "text": "Check the automobile's tyre pressure monthly."},
            {"key": "bread", "text": "Knead the dough for ten minutes."},
        ]
        assert owner.post(f"{base}/kb/documents", {"documents": cars}).status_code == 200
        assert fake.count == 1
        found = owner.get(f"{base}/kb/search", params={"q": "vehicle", "k": 1}).json()
        assert (found["mode"], found["note"]) == ("hybrid", None)
        assert [hit["key"] for hit in found["hits"]] == ["tyres"]

        fake.reply_error(503, "overloaded")
        failed = owner.post(f"{base}/kb/documents", {"documents": [{"key": "x", "text": "y"}]})
        assert failed.status_code == 502, failed.text
        assert failed.json()["error"]["code"] == "upstream_failed"
        assert failed.json()["error"]["message"].startswith(
            "the embeddings model 'embedder/fake-embed' failed (no document was stored): "
            "provider 'embedder', model 'fake-embed' (HTTP 503)"
        )
        assert "'x'" not in str(owner.get(f"{base}/kb/documents").json())

        owner.patch(app_base, {"embedding_model": "anthropic/claude-sonnet-4-5"})
        refused = owner.post(f"{base}/kb/documents", {"documents": [{"key": "x", "text": "y"}]})
        assert "which has no embeddings" in error(refused, 422)
        # Back to full text only.
        assert owner.patch(app_base, {"embedding_model": None}).json()["embedding_model"] is None
        found = owner.get(f"{base}/kb/search", params={"q": "vehicle"}).json()
        assert (found["mode"], found["hits"]) == ("text", [])
        assert "embedding_model" in found["note"]
