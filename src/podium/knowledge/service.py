"""The knowledge store: namespaced documents of an app, and search over their chunks.

A document (`key`, `text`, `metadata`) lives in a namespace of one app. Writing one
replaces it (by key) and its chunks: the text is cut into overlapping chunks
(`podium.knowledge.chunking`), and the chunks are what a search finds, ranked by the
full-text index (BM25 on SQLite, cover density on PostgreSQL) — and, when the app has an
embeddings model, fused with the chunks nearest to the query's vector (reciprocal rank
fusion). Namespaces starting with `_` are reserved for services (`_agents`, the agent
directory; `_memory`, memory search): only calls with `system=True` reach them.

Search terms are the query's words (letters and digits); a chunk matches when it holds any
of them (an OR), and the terms of the query a hit holds are in its `matched`. The filter is
equality on top-level keys of a document's metadata: `{"tier": "hot", "year": 2024}` keeps
the documents whose metadata has `tier` equal to "hot" and `year` equal to 2024.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from podium import jsonvalue
from podium.config import Settings, get_settings
from podium.errors import (
    KnowledgeInvalid,
    LimitTooHigh,
    NotFound,
    PayloadTooLarge,
    UpstreamFailed,
)
from podium.events import names
from podium.events.envelope import Event
from podium.knowledge import chunking
from podium.knowledge.names import (
    KEY_PATTERN,
    NAMESPACE_PATTERN,
    check_key,
    check_namespace,
    is_reserved,
)
from podium.knowledge.ranking import check_filter, fuse, matched_terms, query_terms
from podium.llm.base import ModelNotConfigured, ProviderError
from podium.storage import knowledge as tx
from podium.storage.knowledge import ChunkHit, NewDocument
from podium.storage.script import dumps
from podium.storage.store import Store

MAX_LIST_LIMIT = 1000
MAX_NAMESPACES_PER_SEARCH = 16
TEXT_ONLY_NOTE = (
    "full-text search only: this app has no embeddings model; for hybrid search set one with "
    'PATCH /api/v1/apps/{app} {"embedding_model": "openai/text-embedding-3-small"} (or '
    "ollama/nomic-embed-text), or PODIUM_EMBEDDING_MODEL for the whole server"
)


class Embedder(Protocol):
    """An embeddings model: a vector per text (`podium.llm.embeddings`)."""

    model: str

    async def embed(self, texts: list[str]) -> list[list[float]]: ...


# The app's embeddings model, or None when it has none (full-text search only).
EmbedderFor = Callable[[str], Awaitable[Embedder | None]]


async def _no_embeddings(app_id: str) -> Embedder | None:
    return None


class KnowledgeService:
    """Documents in namespaces of an app, and search over them (every call names the app).

    Args:
        store: the store.
        settings: the caps and chunk sizes (`PODIUM_KNOWLEDGE_*`).
        embedder_for: the app's embeddings model (None: full-text search only).
    """

    def __init__(
        self,
        store: Store,
        settings: Settings | None = None,
        *,
        embedder_for: EmbedderFor = _no_embeddings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings or get_settings()
        self.embedder_for = embedder_for
        self.clock = clock

    # --- writing --------------------------------------------------------------------

    async def put_documents(
        self,
        app_id: str,
        namespace: str,
        documents: list[dict[str, Any]],
        *,
        actor: str | None = None,
        chunk_chars: int | None = None,
        overlap_chars: int | None = None,
        system: bool = False,
    ) -> dict[str, Any]:
        """Create or replace documents by key, in one transaction (all or none).

        Args:
            documents: `{"key", "text", "metadata"?}` each; keys distinct.
            chunk_chars, overlap_chars: the chunk size (default `PODIUM_KNOWLEDGE_CHUNK_CHARS`
                and `…_OVERLAP_CHARS`).
            system: the call comes from a service (reserved namespaces allowed).
        Returns:
            `{"namespace", "documents": [{"key", "chunks", "updated_at"}]}`.
        Raises:
            KnowledgeInvalid, LimitTooHigh, PayloadTooLarge: a document or the batch is refused
            (nothing is written).
        """
        check_namespace(namespace, system=system)
        size, overlap = self._chunk_size(chunk_chars, overlap_chars)
        prepared = self._prepare(documents, size, overlap, system=system)
        embedder = await self._embedder(app_id)
        await self._embed(app_id, namespace, prepared, embedder, report=not system)
        now = self.clock()
        event = Event(
            names.KNOWLEDGE_INGESTED, app_id, data=self._ingested(namespace, prepared, actor)
        )
        events = await self.store.run_script(
            lambda: tx.put_documents(
                app_id, namespace, prepared, actor, now, [] if system else [event]
            )
        )
        self.store._published(events)
        return {
            "namespace": namespace,
            "documents": [
                {"key": doc.key, "chunks": len(doc.chunks), "updated_at": now} for doc in prepared
            ],
        }

    def _chunk_size(self, chunk_chars: int | None, overlap_chars: int | None) -> tuple[int, int]:
        size = self.settings.knowledge_chunk_chars if chunk_chars is None else chunk_chars
        overlap = (
            self.settings.knowledge_chunk_overlap_chars if overlap_chars is None else overlap_chars
        )
        low, high = chunking.MIN_CHUNK_CHARS, chunking.MAX_CHUNK_CHARS
        if isinstance(size, bool) or not isinstance(size, int) or not low <= size <= high:
            raise KnowledgeInvalid(
                f"chunk_chars is a whole number from {low} to {high}, not {size!r}"
            )
        if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap * 2 < size:
            raise KnowledgeInvalid(
                f"overlap_chars is a whole number from 0 to less than half of chunk_chars "
                f"({size}), not {overlap!r}"
            )
        return size, overlap

    def _prepare(
        self, documents: list[dict[str, Any]], size: int, overlap: int, *, system: bool
    ) -> list[NewDocument]:
        cap = self.settings.knowledge_max_batch_documents
        if not isinstance(documents, list) or not documents:
            raise KnowledgeInvalid("documents is a list of at least one {key, text, metadata}")
        if len(documents) > cap and not system:
            raise LimitTooHigh(
                f"the batch has {len(documents)} documents, over the limit of {cap} "
                "(PODIUM_KNOWLEDGE_MAX_BATCH_DOCUMENTS); send them in several batches",
                details={"setting": "PODIUM_KNOWLEDGE_MAX_BATCH_DOCUMENTS", "cap": cap},
            )
        max_bytes = self.settings.knowledge_max_document_bytes
        prepared: list[NewDocument] = []
        seen: set[str] = set()
        for index, document in enumerate(documents):
            if not isinstance(document, dict):
                raise KnowledgeInvalid(
                    f"documents[{index}] is not an object {{key, text, metadata}}"
                )
            key, text = document.get("key"), document.get("text")
            metadata = document.get("metadata") or {}
            check_key(key, system=system)  # type: ignore[arg-type]
            assert isinstance(key, str)
            if key in seen:
                raise KnowledgeInvalid(
                    f"document key {key!r} is in the batch twice; each key once per batch"
                )
            seen.add(key)
            if not isinstance(text, str) or not text.strip():
                raise KnowledgeInvalid(f"document {key!r} has no text; text is a non-empty string")
            if not isinstance(metadata, dict):
                raise KnowledgeInvalid(
                    f"metadata of document {key!r} is not a JSON object, e.g. "
                    '{"source": "handbook", "tier": "hot"}'
                )
            jsonvalue.check_value(text, f"text of document {key!r}")
            jsonvalue.check_value(metadata, f"metadata of document {key!r}")
            size_bytes = len(text.encode()) + len(dumps(metadata).encode())
            if size_bytes > max_bytes:
                raise PayloadTooLarge(
                    f"document {key!r} is {size_bytes} bytes (text and metadata), over the "
                    f"limit of {max_bytes} (PODIUM_KNOWLEDGE_MAX_DOCUMENT_BYTES); split it into "
                    "several documents",
                    details={
                        "key": key,
                        "bytes": size_bytes,
                        "max_bytes": max_bytes,
                        "setting": "PODIUM_KNOWLEDGE_MAX_DOCUMENT_BYTES",
                    },
                )
            chunks = chunking.chunk_text(text, size, overlap)
            prepared.append(NewDocument(key, text, metadata, chunks))
        return prepared

    async def _embed(
        self,
        app_id: str,
        namespace: str,
        prepared: list[NewDocument],
        embedder: Embedder | None,
        *,
        report: bool = True,
    ) -> list[Event]:
        """Give the chunks their vectors (with an embeddings model) and report progress of
        a large batch (events written and published as it goes); returns them."""
        every = max(1, self.settings.knowledge_progress_every)
        large = report and len(prepared) > every
        written: list[Event] = []
        for start in range(0, len(prepared), every):
            group = prepared[start : start + every]
            if embedder is not None:
                await self._embed_group(group, embedder)
            done = start + len(group)
            if large and done < len(prepared):
                event = Event(
                    names.KNOWLEDGE_INGEST_PROGRESS,
                    app_id,
                    data={
                        "namespace": namespace,
                        "done": done,
                        "total": len(prepared),
                        "stage": "embedding" if embedder is not None else "chunking",
                    },
                )
                written += await self.store.append_events(app_id, [event])
        return written

    async def _embedder(self, app_id: str) -> Embedder | None:
        try:
            return await self.embedder_for(app_id)
        except ModelNotConfigured as exc:
            raise KnowledgeInvalid(
                f"this app's embeddings model cannot be used: {exc.message}; change it with "
                'PATCH /api/v1/apps/{app} {"embedding_model": …} (null for full text only)'
            ) from exc

    async def _embed_texts(
        self, embedder: Embedder, texts: list[str], outcome: str
    ) -> list[list[float]]:
        try:
            return await embedder.embed(texts)
        except ProviderError as exc:
            raise UpstreamFailed(
                f"the embeddings model {embedder.model!r} failed ({outcome}): {exc.message}",
                details=exc.details,
            ) from exc

    async def _embed_group(self, group: list[NewDocument], embedder: Embedder) -> None:
        from podium.knowledge.vectors import pack  # numpy only when vectors are used

        texts = [text for doc in group for text in doc.chunks]
        vectors = await self._embed_texts(embedder, texts, "no document was stored")
        offset = 0
        for doc in group:
            doc.vectors = [pack(vector) for vector in vectors[offset : offset + len(doc.chunks)]]
            offset += len(doc.chunks)

    @staticmethod
    def _ingested(namespace: str, prepared: list[NewDocument], actor: str | None) -> dict[str, Any]:
        keys = [doc.key for doc in prepared]
        data: dict[str, Any] = {
            "namespace": namespace,
            "documents": len(prepared),
            "chunks": sum(len(doc.chunks) for doc in prepared),
            # The first keys only: an event stays small however large the batch.
            "keys": keys[:20],
        }
        if len(keys) > 20:
            data["more_keys"] = len(keys) - 20
        if actor is not None:
            data["actor"] = actor
        return data

    async def delete_document(
        self,
        app_id: str,
        namespace: str,
        key: str,
        *,
        actor: str | None = None,
        system: bool = False,
    ) -> bool:
        """Delete the document and its chunks; False when there was none."""
        check_namespace(namespace, system=system)
        check_key(key, system=system)
        data: dict[str, Any] = {"namespace": namespace, "keys": [key]}
        if actor is not None:
            data["actor"] = actor
        events = [] if system else [Event(names.KNOWLEDGE_DELETED, app_id, data=data)]
        now = self.clock()
        deleted = await self.store.run_script(
            lambda: tx.delete_documents(app_id, namespace, [key], now, events)
        )
        if deleted:
            self.store._published(events)
        return bool(deleted)

    # --- reading --------------------------------------------------------------------

    async def get_document(
        self, app_id: str, namespace: str, key: str, *, system: bool = False
    ) -> dict[str, Any]:
        """`{"namespace", "key", "text", "metadata", "chunks", "actor", "updated_at"}`;
        NotFound when the namespace has no such document."""
        check_namespace(namespace, system=system)
        check_key(key, system=system)
        document: dict[str, Any] | None = await self.store.run_read(
            lambda: tx.get_document(app_id, namespace, key)
        )
        if document is None:
            raise NotFound(f"no document {key!r} in knowledge namespace {namespace!r}")
        return document

    async def list_documents(
        self,
        app_id: str,
        namespace: str,
        *,
        limit: int = 100,
        after: str | None = None,
        system: bool = False,
    ) -> list[dict[str, Any]]:
        """A page of the namespace's documents by key, without their text
        (`{"key", "metadata", "chunks", "chars", "updated_at"}`); `after` is the last key of
        the page before. NotFound for a namespace (not reserved) with no documents."""
        check_namespace(namespace, system=system)
        if after is not None:
            check_key(after, system=system)
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= MAX_LIST_LIMIT
        ):
            raise KnowledgeInvalid(f"limit is from 1 to {MAX_LIST_LIMIT}, not {limit!r}")
        items: list[dict[str, Any]] = await self.store.run_read(
            lambda: tx.list_documents(app_id, namespace, limit, after)
        )
        if not items and after is None and not is_reserved(namespace):
            raise NotFound(
                f"knowledge namespace {namespace!r} has no documents in this app; "
                "GET /api/v1/apps/{app}/knowledge lists the namespaces",
                details={"namespace": namespace},
            )
        return items

    async def list_namespaces(
        self, app_id: str, *, include_reserved: bool = False
    ) -> list[dict[str, Any]]:
        """The app's namespaces with their numbers of documents and chunks
        (`[{"namespace", "documents", "chunks"}]`), reserved ones only if asked."""
        found: list[dict[str, Any]] = await self.store.run_read(lambda: tx.list_namespaces(app_id))
        return [n for n in found if include_reserved or not is_reserved(n["namespace"])]

    async def search(
        self,
        app_id: str,
        namespaces: str | list[str],
        query: str,
        *,
        k: int = 5,
        filter: dict[str, Any] | None = None,
        system: bool = False,
        text_only: bool = False,
    ) -> dict[str, Any]:
        """The `k` chunks of the namespaces that best answer `query`, best first
        (`text_only`: full text even when the app has an embeddings model).

        Returns:
            `{"query", "mode": "text" | "hybrid", "note", "hits": [{"namespace", "key",
            "chunk", "text", "score", "metadata", "matched"}]}`.
        Raises:
            KnowledgeInvalid: an empty query, `k` out of range, a bad filter or namespace.
            NotFound: a namespace (not reserved) with no documents.
        """
        wanted = [namespaces] if isinstance(namespaces, str) else list(namespaces)
        if not wanted or len(wanted) > MAX_NAMESPACES_PER_SEARCH:
            raise KnowledgeInvalid(
                f"name 1 to {MAX_NAMESPACES_PER_SEARCH} namespaces to search, not {len(wanted)}"
            )
        for namespace in wanted:
            check_namespace(namespace, system=system)
        terms = self._terms(query)
        self._check_k(k)
        conditions = check_filter(filter)
        known: set[str] = await self.store.run_read(lambda: tx.existing_namespaces(app_id, wanted))
        missing = [n for n in wanted if n not in known and not is_reserved(n)]
        if missing:
            raise NotFound(
                f"knowledge namespace {missing[0]!r} has no documents in this app; "
                "GET /api/v1/apps/{app}/knowledge lists the namespaces",
                details={"namespace": missing[0]},
            )
        searched = [n for n in wanted if n in known]
        embedder = None if text_only else await self._embedder(app_id)
        dialect = self.store.dialect
        if embedder is None:
            hits: list[ChunkHit] = await self.store.run_read(
                lambda: tx.search_text(app_id, searched, terms, conditions, k, dialect)
            )
            mode, note = "text", None if text_only else TEXT_ONLY_NOTE
        else:
            hits = await self._hybrid(app_id, searched, query, terms, conditions, k, embedder)
            mode, note = "hybrid", None
        return {
            "query": query,
            "mode": mode,
            "note": note,
            "hits": [
                {
                    "namespace": hit.namespace,
                    "key": hit.key,
                    "chunk": hit.chunk,
                    "text": hit.text,
                    "score": hit.score,
                    "metadata": hit.metadata,
                    "matched": matched_terms(terms, hit.text),
                }
                for hit in hits
            ],
        }

    def _terms(self, query: str) -> list[str]:
        cap = self.settings.knowledge_max_query_chars
        if not isinstance(query, str) or not query.strip():
            raise KnowledgeInvalid(
                "the query is empty; give the words to search for, e.g. q=refund"
            )
        if len(query) > cap:
            raise KnowledgeInvalid(
                f"the query is {len(query)} characters, over the limit of {cap} "
                "(PODIUM_KNOWLEDGE_MAX_QUERY_CHARS)",
                details={"setting": "PODIUM_KNOWLEDGE_MAX_QUERY_CHARS", "cap": cap},
            )
        terms = query_terms(query)
        if not terms:
            raise KnowledgeInvalid(
                f"the query {query!r} has no words to search for (letters or digits)"
            )
        return terms

    def _check_k(self, k: int) -> None:
        cap = self.settings.knowledge_max_k
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= cap:
            raise LimitTooHigh(
                f"k is the number of results, from 1 to {cap} (PODIUM_KNOWLEDGE_MAX_K), not {k!r}",
                details={"setting": "PODIUM_KNOWLEDGE_MAX_K", "cap": cap},
            )

    async def _hybrid(
        self,
        app_id: str,
        namespaces: list[str],
        query: str,
        terms: list[str],
        conditions: dict[str, Any],
        k: int,
        embedder: Embedder,
    ) -> list[ChunkHit]:
        from podium.knowledge.vectors import nearest

        dialect = self.store.dialect
        depth = max(k * 4, 20)  # how far down each ranking the fusion looks
        text_hits: list[ChunkHit] = await self.store.run_read(
            lambda: tx.search_text(app_id, namespaces, terms, conditions, depth, dialect)
        )
        [query_vector] = await self._embed_texts(embedder, [query], "the search did not run")
        scan = self.settings.knowledge_max_vector_scan
        candidates = await self.store.run_read(
            lambda: tx.chunk_vectors(app_id, namespaces, conditions, scan, dialect)
        )
        vector_hits = nearest(query_vector, candidates, depth)
        return fuse([text_hits, vector_hits], k)


__all__ = [
    "KEY_PATTERN",
    "NAMESPACE_PATTERN",
    "Embedder",
    "KnowledgeService",
    "check_filter",
    "check_key",
    "check_namespace",
    "query_terms",
]
