"""Full-text ranking on a labelled set (tests/knowledge/corpus): 110 short documents on many
topics and 42 questions, each with the one document that answers it. The answering document
must be in the top 3 for at least 90 % of the questions, on every backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from podium.config import Settings
from podium.knowledge.service import KnowledgeService
from podium.storage.store import Store

CORPUS = Path(__file__).parent / "corpus"


def read_jsonl(name: str) -> list[dict[str, Any]]:
    lines = (CORPUS / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_the_labelled_set_is_large_enough() -> None:
    documents, queries = read_jsonl("documents.jsonl"), read_jsonl("queries.jsonl")
    keys = {document["key"] for document in documents}
    assert len(keys) == len(documents) >= 100
    assert len(queries) >= 30
    assert {query["relevant"] for query in queries} <= keys


async def test_the_relevant_document_is_in_the_top_three(store: Store, settings: Settings) -> None:
    knowledge = KnowledgeService(store, settings)
    app_id = await store.ensure_app("a")
    await knowledge.put_documents(app_id, "corpus", read_jsonl("documents.jsonl"))
    queries = read_jsonl("queries.jsonl")
    misses = []
    for labelled in queries:
        result = await knowledge.search(app_id, "corpus", labelled["query"], k=3)
        found = [hit["key"] for hit in result["hits"]]
        if labelled["relevant"] not in found:
            misses.append(f"{labelled['query']!r}: wanted {labelled['relevant']}, got {found}")
    share = 1 - len(misses) / len(queries)
    assert share >= 0.9, f"{share:.0%} in the top 3; misses:\n" + "\n".join(misses)
    print(f"{store.dialect}: {share:.0%} in the top 3; misses: {misses}")
