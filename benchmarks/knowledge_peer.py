"""The peer of `benchmarks/knowledge.py`: the same documents and queries on tantivy.

tantivy (the Rust full-text engine behind Quickwit, through its official Python bindings)
is what a Python user picks for BM25 search over documents on disk. The index lives in a
directory of its own; each batch is upserted (delete by key, add) and committed before the
next one, as Podium commits a `put_documents` call in one transaction. The body is
tokenized with tantivy's English stemmer (`en_stem`), as Podium's index stems English too.
A query is its words joined by spaces (tantivy's query language would refuse a stray `:`
or quote), matching any of them, ranked by BM25; the first `k` documents' keys and text
are read back, as Podium returns each hit's text.
"""

from __future__ import annotations

import re
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.knowledge_corpus import Document, Query

NAME = "tantivy"
WORD = re.compile(r"\w+")


def version() -> str:
    return f"{NAME} {metadata.version(NAME)}"


def available() -> str | None:
    """None when tantivy can run here, else why not."""
    try:
        import tantivy  # noqa: F401
    except ImportError as exc:
        return f"tantivy is not installed ({exc}; it is in the `bench` extra)"
    return None


class TantivyStore:
    """Documents keyed by `key`, searched by BM25 over `text`."""

    def __init__(self, directory: Path) -> None:
        import tantivy

        directory.mkdir(parents=True, exist_ok=True)
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("key", stored=True, tokenizer_name="raw")
        builder.add_text_field("text", stored=True, tokenizer_name="en_stem")
        self.schema = builder.build()
        self.index = tantivy.Index(self.schema, path=str(directory))
        self.writer = self.index.writer()
        self._document = tantivy.Document

    def put_documents(self, documents: list[Document]) -> None:
        for document in documents:
            self.writer.delete_documents_by_term("key", document.key)
            self.writer.add_document(self._document(key=document.key, text=document.text))
        self.writer.commit()

    def finish_ingest(self) -> None:
        self.writer.wait_merging_threads()
        self.index.reload()

    def search(self, query: str, k: int) -> list[dict[str, Any]]:
        words = " ".join(WORD.findall(query))
        if not words:
            return []
        parsed = self.index.parse_query(words, ["text"])
        searcher = self.index.searcher()
        hits = []
        for score, address in searcher.search(parsed, k).hits:
            stored = searcher.doc(address)
            hits.append({"key": stored["key"][0], "text": stored["text"][0], "score": score})
        return hits


def run(
    directory: Path, documents: list[Document], queries: list[Query], batch: int, k: int
) -> dict[str, Any]:
    """Ingest in batches, then time every query; the figures `knowledge.py` reports."""
    store = TantivyStore(directory)
    started = time.perf_counter()
    for start in range(0, len(documents), batch):
        store.put_documents(documents[start : start + batch])
    store.finish_ingest()
    ingest_seconds = time.perf_counter() - started
    for query in queries[: min(20, len(queries))]:  # warm the caches, as for Podium
        store.search(query.text, k)
    latencies, found = [], 0
    for query in queries:
        began = time.perf_counter()
        hits = store.search(query.text, k)
        latencies.append((time.perf_counter() - began) * 1000)
        found += query.answer in {hit["key"] for hit in hits}
    return {
        "ingest_seconds": ingest_seconds,
        "latencies_ms": latencies,
        "found": found,
        "bytes": sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()),
    }
