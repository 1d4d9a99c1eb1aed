"""The knowledge store's conformance, on every backend: documents put, got, listed and
deleted; an upsert replaces the chunks; apps never see each other's documents; metadata
filters; long documents cut into overlapping chunks; what a search refuses."""

from __future__ import annotations

from typing import Any

import pytest

from podium.config import Settings
from podium.errors import InvalidInput, LimitTooHigh, NotFound, PayloadTooLarge
from podium.events import names
from podium.events.envelope import Event
from podium.knowledge.service import KnowledgeService
from podium.storage.store import Store

DOCS = [
    {"key": "refunds", "text": "Refunds are paid within fourteen days of the returned parcel."},
    {"key": "shipping", "text": "Parcels ship from the Lyon warehouse every weekday morning."},
    {"key": "warranty", "text": "The warranty covers manufacturing defects for two years."},
]


@pytest.fixture
def knowledge(store: Store, settings: Settings) -> KnowledgeService:
    return KnowledgeService(store, settings)


@pytest.fixture
async def app_id(store: Store) -> str:
    return await store.ensure_app("a")


def keys(result: dict[str, Any]) -> list[str]:
    return [hit["key"] for hit in result["hits"]]


async def test_put_get_list_delete(knowledge: KnowledgeService, app_id: str) -> None:
    written = await knowledge.put_documents(
        app_id, "help", [*DOCS[:2], {**DOCS[2], "metadata": {"tier": "gold"}}], actor="usr_1"
    )
    assert written["namespace"] == "help"
    assert [d["key"] for d in written["documents"]] == ["refunds", "shipping", "warranty"]
    assert all(d["chunks"] == 1 for d in written["documents"])

    document = await knowledge.get_document(app_id, "help", "warranty")
    assert document["text"] == DOCS[2]["text"]
    assert document["metadata"] == {"tier": "gold"}
    assert document["actor"] == "usr_1"

    listed = await knowledge.list_documents(app_id, "help")
    assert [d["key"] for d in listed] == ["refunds", "shipping", "warranty"]
    assert "text" not in listed[0] and listed[0]["chars"] == len(DOCS[0]["text"])
    page = await knowledge.list_documents(app_id, "help", limit=2)
    rest = await knowledge.list_documents(app_id, "help", after=page[-1]["key"])
    assert [d["key"] for d in page + rest] == ["refunds", "shipping", "warranty"]
    assert await knowledge.list_namespaces(app_id) == [
        {"namespace": "help", "documents": 3, "chunks": 3}
    ]

    assert await knowledge.delete_document(app_id, "help", "shipping") is True
    assert await knowledge.delete_document(app_id, "help", "shipping") is False
    with pytest.raises(NotFound, match="no document 'shipping' in knowledge namespace 'help'"):
        await knowledge.get_document(app_id, "help", "shipping")
    # Its chunks went with it: the index no longer finds them.
    assert keys(await knowledge.search(app_id, "help", "lyon warehouse")) == []


async def test_search_ranks_and_says_what_matched(knowledge: KnowledgeService, app_id: str) -> None:
    await knowledge.put_documents(app_id, "help", DOCS)
    result = await knowledge.search(app_id, "help", "When are refunds paid?")
    assert result["mode"] == "text" and "embedding_model" in result["note"]
    assert result["query"] == "When are refunds paid?"
    best = result["hits"][0]
    assert best["key"] == "refunds" and best["chunk"] == 0 and best["namespace"] == "help"
    assert best["text"] == DOCS[0]["text"] and best["metadata"] == {}
    assert set(best["matched"]) == {"are", "refunds", "paid"}
    assert best["score"] > 0
    scores = [hit["score"] for hit in result["hits"]]
    assert scores == sorted(scores, reverse=True)
    # Stemming: "shipped parcels" finds "ship … Parcels".
    assert keys(await knowledge.search(app_id, "help", "shipped"))[0] == "shipping"
    # Any term is enough (an OR), and a word of no document finds nothing.
    assert set(keys(await knowledge.search(app_id, "help", "warranty lyon", k=5))) == {
        "warranty",
        "shipping",
    }
    assert keys(await knowledge.search(app_id, "help", "zeppelin")) == []


async def test_query_syntax_is_only_words(knowledge: KnowledgeService, app_id: str) -> None:
    """Operators, quotes and column names of FTS5 or tsquery in a query are just separators."""
    await knowledge.put_documents(app_id, "help", DOCS)
    for query in (
        'refunds" OR text:*',
        "refunds & !(paid) | :*",
        "NEAR(refunds paid)",
        "-refunds^",
    ):
        assert keys(await knowledge.search(app_id, "help", query))[0] == "refunds", query


async def test_upsert_replaces_the_chunks(knowledge: KnowledgeService, app_id: str) -> None:
    long_text = " ".join(f"Alpha sentence number {i} about kayaks." for i in range(60))
    written = await knowledge.put_documents(
        app_id, "notes", [{"key": "k", "text": long_text}], chunk_chars=300, overlap_chars=50
    )
    assert written["documents"][0]["chunks"] > 5
    assert keys(await knowledge.search(app_id, "notes", "kayaks", k=50)) == ["k"] * len(
        (await knowledge.search(app_id, "notes", "kayaks", k=50))["hits"]
    )
    await knowledge.put_documents(app_id, "notes", [{"key": "k", "text": "Now about canoes."}])
    assert (await knowledge.get_document(app_id, "notes", "k"))["chunks"] == 1
    assert keys(await knowledge.search(app_id, "notes", "kayaks")) == []
    assert keys(await knowledge.search(app_id, "notes", "canoes")) == ["k"]
    assert await knowledge.list_namespaces(app_id) == [
        {"namespace": "notes", "documents": 1, "chunks": 1}
    ]


async def test_long_documents_are_chunked_with_overlap(
    knowledge: KnowledgeService, app_id: str
) -> None:
    sentences = [f"Sentence {i} mentions the token w{i}x." for i in range(80)]
    await knowledge.put_documents(
        app_id,
        "notes",
        [{"key": "long", "text": " ".join(sentences)}],
        chunk_chars=200,
        overlap_chars=60,
    )
    hits = (await knowledge.search(app_id, "notes", "w40x", k=10))["hits"]
    assert hits and all(hit["key"] == "long" for hit in hits)
    assert all(len(hit["text"]) <= 200 and "w40x" in hit["text"] for hit in hits)
    # Every sentence is whole in some chunk; the overlap puts some in two.
    chunks_of = {}
    for i in range(80):
        found = (await knowledge.search(app_id, "notes", f"w{i}x", k=10))["hits"]
        chunks_of[i] = {hit["chunk"] for hit in found if sentences[i] in hit["text"]}
        assert chunks_of[i], f"sentence {i} is whole in no chunk"
    assert any(len(found) > 1 for found in chunks_of.values())


async def test_apps_never_see_each_others_documents(
    knowledge: KnowledgeService, store: Store, app_id: str
) -> None:
    other = await store.ensure_app("b")
    await knowledge.put_documents(app_id, "help", DOCS)
    await knowledge.put_documents(
        other, "help", [{"key": "refunds", "text": "B's own refunds policy."}]
    )
    assert (await knowledge.get_document(other, "help", "refunds"))[
        "text"
    ] == "B's own refunds policy."
    assert [d["key"] for d in await knowledge.list_documents(other, "help")] == ["refunds"]
    assert keys(await knowledge.search(other, "help", "warranty lyon refunds paid")) == ["refunds"]
    assert (await knowledge.search(other, "help", "refunds"))["hits"][0]["text"] == (
        "B's own refunds policy."
    )
    with pytest.raises(NotFound):
        await knowledge.get_document(other, "help", "warranty")
    await knowledge.put_documents(app_id, "manuals", DOCS[:1])
    with pytest.raises(NotFound, match="'manuals' has no documents"):
        await knowledge.search(other, "manuals", "refunds")
    assert await knowledge.delete_document(other, "help", "warranty") is False
    assert await knowledge.get_document(app_id, "help", "warranty")
    assert await knowledge.list_namespaces(other) == [
        {"namespace": "help", "documents": 1, "chunks": 1}
    ]


async def test_metadata_filters(knowledge: KnowledgeService, app_id: str) -> None:
    await knowledge.put_documents(
        app_id,
        "kb",
        [
            {"key": "a", "text": "router setup guide", "metadata": {"tier": "hot", "year": 2024}},
            {"key": "b", "text": "router reset guide", "metadata": {"tier": "cold", "year": 2023}},
            {"key": "c", "text": "router firmware", "metadata": {"tier": "hot", "beta": True}},
            {"key": "d", "text": "router cables", "metadata": {"tier": "1", "year": 2024.0}},
            {"key": "e", "text": "router antenna", "metadata": {"tier": None, "nested": {"x": 1}}},
        ],
    )

    async def found(filter: dict[str, Any]) -> set[str]:
        return set(keys(await knowledge.search(app_id, "kb", "router", k=10, filter=filter)))

    assert await found({}) == {"a", "b", "c", "d", "e"}
    assert await found({"tier": "hot"}) == {"a", "c"}
    assert await found({"tier": "hot", "year": 2024}) == {"a"}
    assert await found({"year": 2024}) == {"a", "d"}  # 2024 and 2024.0 are one number
    assert await found({"beta": True}) == {"c"}
    assert await found({"beta": False}) == set()
    assert await found({"tier": None}) == {"e"}
    assert await found({"tier": 1}) == set()  # the string "1" is not the number 1
    assert await found({"missing": "x"}) == set()
    with pytest.raises(InvalidInput, match="compares top-level metadata keys for equality"):
        await found({"nested": {"x": 1}})
    with pytest.raises(InvalidInput, match=r"filter key 'a\.b' is not valid"):
        await found({"a.b": 1})
    with pytest.raises(InvalidInput, match="too large a whole number"):
        await found({"year": 10**30})
    with pytest.raises(InvalidInput, match="the filter is a JSON object"):
        await knowledge.search(app_id, "kb", "router", filter=["tier"])  # type: ignore[arg-type]


async def test_search_across_namespaces(knowledge: KnowledgeService, app_id: str) -> None:
    await knowledge.put_documents(app_id, "one", [{"key": "x", "text": "lighthouse keeper"}])
    await knowledge.put_documents(app_id, "two", [{"key": "y", "text": "lighthouse lens"}])
    hits = (await knowledge.search(app_id, ["one", "two"], "lighthouse"))["hits"]
    assert {(hit["namespace"], hit["key"]) for hit in hits} == {("one", "x"), ("two", "y")}


async def test_reserved_namespaces_are_for_services(
    knowledge: KnowledgeService, app_id: str
) -> None:
    with pytest.raises(InvalidInput, match="namespace '_agents' is reserved"):
        await knowledge.put_documents(app_id, "_agents", DOCS)
    with pytest.raises(InvalidInput, match="reserved"):
        await knowledge.search(app_id, "_agents", "refunds")
    # An empty reserved namespace is searched (no hits), not refused.
    assert (await knowledge.search(app_id, "_agents", "refunds", system=True))["hits"] == []
    seen: list[Event] = []
    knowledge.store.add_listener(seen.extend)
    await knowledge.put_documents(
        app_id, "_agents", [{"key": "agent:weather", "text": "forecasts"}], system=True
    )
    assert seen == []  # services' own writes are not the app's events
    assert keys(await knowledge.search(app_id, "_agents", "forecast", system=True)) == [
        "agent:weather"
    ]
    # Listed only when asked for.
    assert await knowledge.list_namespaces(app_id) == []
    assert [
        n["namespace"] for n in await knowledge.list_namespaces(app_id, include_reserved=True)
    ] == ["_agents"]


async def test_what_search_refuses(knowledge: KnowledgeService, app_id: str) -> None:
    await knowledge.put_documents(app_id, "help", DOCS)
    with pytest.raises(InvalidInput, match="the query is empty"):
        await knowledge.search(app_id, "help", "  ")
    with pytest.raises(InvalidInput, match="has no words to search for"):
        await knowledge.search(app_id, "help", "?! --")
    with pytest.raises(LimitTooHigh, match=r"from 1 to 50 \(PODIUM_KNOWLEDGE_MAX_K\), not 51"):
        await knowledge.search(app_id, "help", "refunds", k=51)
    with pytest.raises(LimitTooHigh, match="not 0"):
        await knowledge.search(app_id, "help", "refunds", k=0)
    with pytest.raises(NotFound, match="knowledge namespace 'nope' has no documents"):
        await knowledge.search(app_id, ["help", "nope"], "refunds")
    with pytest.raises(InvalidInput, match="namespace 'bad name' is not valid"):
        await knowledge.search(app_id, "bad name", "refunds")
    with pytest.raises(InvalidInput, match="PODIUM_KNOWLEDGE_MAX_QUERY_CHARS"):
        await knowledge.search(app_id, "help", "word " * 300)


async def test_what_put_refuses(
    knowledge: KnowledgeService, store: Store, app_id: str, settings: Settings
) -> None:
    small = KnowledgeService(
        store,
        settings.model_copy(
            update={"knowledge_max_document_bytes": 100, "knowledge_max_batch_documents": 2}
        ),
    )
    with pytest.raises(PayloadTooLarge, match="document 'big' is 201 bytes"):
        await small.put_documents(app_id, "help", [{"key": "big", "text": "x" * 199}])
    with pytest.raises(LimitTooHigh, match="PODIUM_KNOWLEDGE_MAX_BATCH_DOCUMENTS"):
        await small.put_documents(app_id, "help", DOCS)
    with pytest.raises(InvalidInput, match="'k' is in the batch twice"):
        await knowledge.put_documents(app_id, "help", [{"key": "k", "text": "a"}] * 2)
    with pytest.raises(InvalidInput, match="document 'k' has no text"):
        await knowledge.put_documents(app_id, "help", [{"key": "k", "text": " "}])
    with pytest.raises(InvalidInput, match=r"document key '\.\./etc' is not valid"):
        await knowledge.put_documents(app_id, "help", [{"key": "../etc", "text": "a"}])
    with pytest.raises(InvalidInput, match="metadata of document 'k' is not a JSON object"):
        await knowledge.put_documents(app_id, "help", [{"key": "k", "text": "a", "metadata": 3}])
    with pytest.raises(InvalidInput, match="NUL"):
        await knowledge.put_documents(app_id, "help", [{"key": "k", "text": "a\x00b"}])
    with pytest.raises(InvalidInput, match="overlap_chars"):
        await knowledge.put_documents(app_id, "help", DOCS, chunk_chars=200, overlap_chars=100)
    with pytest.raises(InvalidInput, match="chunk_chars is a whole number from 100"):
        await knowledge.put_documents(app_id, "help", DOCS, chunk_chars=10)
    # Nothing of a refused batch was written; keys with slashes are fine.
    assert await knowledge.list_namespaces(app_id) == []
    await knowledge.put_documents(app_id, "help", [{"key": "guides/intro.md", "text": "hi"}])
    assert (await knowledge.get_document(app_id, "help", "guides/intro.md"))["text"] == "hi"


async def test_events_of_a_batch(knowledge: KnowledgeService, store: Store, app_id: str) -> None:
    seen: list[Event] = []
    store.add_listener(seen.extend)
    small = KnowledgeService(
        store, knowledge.settings.model_copy(update={"knowledge_progress_every": 2})
    )
    batch = [{"key": f"d{i}", "text": f"document number {i}"} for i in range(5)]
    await small.put_documents(app_id, "bulk", batch, actor="usr_1")
    progress = [e.data for e in seen if e.type == names.KNOWLEDGE_INGEST_PROGRESS]
    assert [(p["done"], p["total"]) for p in progress] == [(2, 5), (4, 5)]
    [ingested] = [e for e in seen if e.type == names.KNOWLEDGE_INGESTED]
    assert ingested.seq is not None
    assert ingested.data == {
        "namespace": "bulk",
        "documents": 5,
        "chunks": 5,
        "keys": ["d0", "d1", "d2", "d3", "d4"],
        "actor": "usr_1",
    }
    logged = await store.read_events(app_id)
    assert [e.type for e in logged].count(names.KNOWLEDGE_INGESTED) == 1
    await small.delete_document(app_id, "bulk", "d0")
    assert seen[-1].type == names.KNOWLEDGE_DELETED and seen[-1].data["keys"] == ["d0"]


async def test_deleting_the_app_deletes_its_knowledge(
    knowledge: KnowledgeService, store: Store, app_id: str
) -> None:
    from podium.storage.script import all_rows, execute

    other = await store.ensure_app("b")
    await knowledge.put_documents(app_id, "help", DOCS)
    await knowledge.put_documents(other, "help", DOCS[:1])

    def drop() -> Any:
        yield execute("DELETE FROM apps WHERE id = ?", app_id)

    await store.run_script(drop)

    def count() -> Any:
        rows = yield all_rows("SELECT count(*) AS n FROM knowledge_chunks")
        return rows[0]["n"]

    assert await store.run_read(count) == 1
    assert keys(await knowledge.search(other, "help", "refunds warranty lyon")) == ["refunds"]


async def test_the_runtime_service(podium: Any) -> None:
    knowledge = podium.service("knowledge")
    assert isinstance(knowledge, KnowledgeService)
    app_id = await podium.default_app()
    await knowledge.put_documents(app_id, "help", DOCS)
    assert keys(await knowledge.search(app_id, "help", "warranty"))[0] == "warranty"


async def test_ranking_among_many_matches(
    knowledge: KnowledgeService, store: Store, app_id: str
) -> None:
    """Past 2,000 matches a word in most chunks is left out of the scoring (BM25 gives it no
    weight), and the best rows of the whole index are ranked first; neither changes what an
    app finds: another app's many better matches do not hide its own, and too few rarer
    matches fall back to every term."""
    other = await store.ensure_app("b")
    filler = [{"key": f"f{i:04}", "text": f"common filler text {i}"} for i in range(2100)]
    for start in range(0, len(filler), 500):
        await knowledge.put_documents(other, "kb", filler[start : start + 500])
        await knowledge.put_documents(app_id, "kb", filler[start : start + 500])
    # B's chunks say "rare" more often than A's: they are the index's best matches.
    await knowledge.put_documents(
        other, "kb", [{"key": f"b{i}", "text": "rare rare rare common"} for i in range(100)]
    )
    await knowledge.put_documents(
        app_id,
        "kb",
        [
            {"key": "one", "text": "common rare word among other words here"},
            {"key": "two", "text": "common rare rare word"},
        ],
    )
    found = await knowledge.search(app_id, "kb", "common rare", k=2)
    assert keys(found) == ["two", "one"]
    assert found["hits"][0]["matched"] == ["common", "rare"]
    # Only two chunks of A hold "rare": the rest are filler that holds "common".
    found = await knowledge.search(app_id, "kb", "common rare", k=5)
    assert keys(found)[:2] == ["two", "one"] and len(found["hits"]) == 5
    assert all(key.startswith("f") for key in keys(found)[2:])
    # A filter that only a few of the index's best matches pass.
    await knowledge.put_documents(
        app_id, "kb", [{"key": "three", "text": "rare", "metadata": {"pick": True}}]
    )
    assert keys(await knowledge.search(app_id, "kb", "rare", k=3, filter={"pick": True})) == [
        "three"
    ]
