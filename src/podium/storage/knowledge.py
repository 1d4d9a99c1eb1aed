"""Transactions of the knowledge store: namespaced documents of an app, their chunks, and the
full-text search over the chunks.

A document is `(app_id, namespace, key)` with its text and metadata (a JSON object); it is
stored whole and cut into chunks (the service cuts it), and the chunks are what is indexed
and found. Writing a document replaces its chunks in the same transaction. The full-text
index is SQLite FTS5 (Porter stemmer, ranked by `bm25()`) or a PostgreSQL `tsvector`
(english, ranked by `ts_rank`); both are kept in step with the chunks by the database
itself (triggers; a generated column).

Search terms arrive already reduced to words of letters and digits (the service does it),
so the match expressions built here quote nothing a user could use to change them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from podium.errors import NotFound
from podium.events.envelope import Event
from podium.storage.script import Json, Row, Script, all_rows, execute, many, one
from podium.storage.transactions import append_events

# Keys per `IN (…)` list: well under SQLite's and PostgreSQL's parameter limits.
_IN_GROUP = 500
# What a search answers of a chunk and its document.
_COLUMNS = "c.id, c.namespace, c.chunk, c.text, d.key, d.metadata"
# Scoring every chunk that holds a word found nearly everywhere costs more than the rest of
# a search (SQLite); from this many matches on, such words are left out when that changes
# nothing (`_rare_terms`).
_PRUNE_FROM_MATCHES = 2000


@dataclass(slots=True)
class NewDocument:
    """A document ready to write: its chunks cut, and their vectors (float32 bytes) when the
    app has an embeddings model."""

    key: str
    text: str
    metadata: dict[str, Any]
    chunks: list[str]
    vectors: list[bytes] | None = None


@dataclass(slots=True)
class ChunkHit:
    """A chunk found by a search, with its document's key and metadata."""

    id: int
    namespace: str
    key: str
    chunk: int
    text: str
    metadata: dict[str, Any]
    score: float


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _groups(items: Sequence[Any], size: int = _IN_GROUP) -> list[Sequence[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def put_documents(
    app_id: str,
    namespace: str,
    documents: Sequence[NewDocument],
    actor: str | None,
    now: float,
    events: list[Event],
) -> Script:
    """Create or replace the documents (by key) and their chunks, and write `events`;
    returns the events written."""
    app = yield one("SELECT 1 AS known FROM apps WHERE id = ?", app_id)
    if app is None:
        raise NotFound(f"app {app_id!r} does not exist")
    yield many(
        "INSERT INTO knowledge_documents "
        "(app_id, namespace, key, text, metadata, chunks, actor, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app_id, namespace, key) DO UPDATE SET "
        "text = excluded.text, metadata = excluded.metadata, chunks = excluded.chunks, "
        "actor = excluded.actor, updated_at = excluded.updated_at",
        [
            (app_id, namespace, doc.key, doc.text, Json(doc.metadata), len(doc.chunks), actor, now)
            for doc in documents
        ],
    )
    ids: dict[str, int] = {}
    for group in _groups([doc.key for doc in documents]):
        rows = yield all_rows(
            "SELECT id, key FROM knowledge_documents WHERE app_id = ? AND namespace = ? "
            f"AND key IN ({_marks(len(group))})",
            app_id,
            namespace,
            *group,
        )
        ids.update((row["key"], row["id"]) for row in rows)
    for group in _groups(list(ids.values())):
        yield execute(
            f"DELETE FROM knowledge_chunks WHERE document_id IN ({_marks(len(group))})", *group
        )
    chunk_rows = []
    for doc in documents:
        document_id = ids[doc.key]
        vectors: Sequence[bytes | None] = doc.vectors or [None] * len(doc.chunks)
        for index, (text, vector) in enumerate(zip(doc.chunks, vectors, strict=True)):
            chunk_rows.append((document_id, app_id, namespace, index, text, vector))
    if chunk_rows:
        yield many(
            "INSERT INTO knowledge_chunks (document_id, app_id, namespace, chunk, text, vector) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            chunk_rows,
        )
    written = yield from append_events(app_id, events, now)
    return written


def get_document(app_id: str, namespace: str, key: str) -> Script:
    """The document as a dict, or None."""
    row = yield one(
        "SELECT namespace, key, text, metadata, chunks, actor, updated_at "
        "FROM knowledge_documents WHERE app_id = ? AND namespace = ? AND key = ?",
        app_id,
        namespace,
        key,
    )
    if row is None:
        return None
    return {
        "namespace": row["namespace"],
        "key": row["key"],
        "text": row["text"],
        "metadata": _json(row["metadata"]),
        "chunks": row["chunks"],
        "actor": row["actor"],
        "updated_at": row["updated_at"],
    }


def delete_documents(
    app_id: str, namespace: str, keys: Sequence[str], now: float, events: list[Event]
) -> Script:
    """Delete the documents (their chunks go with them); returns how many there were. The
    events are written only when one was deleted."""
    deleted = 0
    for group in _groups(keys):
        deleted += yield execute(
            "DELETE FROM knowledge_documents WHERE app_id = ? AND namespace = ? "
            f"AND key IN ({_marks(len(group))})",
            app_id,
            namespace,
            *group,
        )
    if deleted and events:
        yield from append_events(app_id, events, now)
    return deleted


def list_documents(app_id: str, namespace: str, limit: int, after: str | None) -> Script:
    """A page of the namespace's documents by key (no text): `after` is the last key of the
    page before."""
    sql = (
        "SELECT key, metadata, chunks, length(text) AS chars, updated_at "
        "FROM knowledge_documents WHERE app_id = ? AND namespace = ?"
    )
    args: list[Any] = [app_id, namespace]
    if after is not None:
        sql += " AND key > ?"
        args.append(after)
    rows = yield all_rows(sql + " ORDER BY key LIMIT ?", *args, limit)
    return [
        {
            "key": row["key"],
            "metadata": _json(row["metadata"]),
            "chunks": row["chunks"],
            "chars": row["chars"],
            "updated_at": row["updated_at"],
        }
        for row in rows
    ]


def list_namespaces(app_id: str) -> Script:
    """Every namespace of the app with its numbers of documents and chunks, by name."""
    rows = yield all_rows(
        "SELECT namespace, count(*) AS documents, sum(chunks) AS chunks "
        "FROM knowledge_documents WHERE app_id = ? GROUP BY namespace ORDER BY namespace",
        app_id,
    )
    return [
        {"namespace": row["namespace"], "documents": row["documents"], "chunks": row["chunks"]}
        for row in rows
    ]


def existing_namespaces(app_id: str, namespaces: Sequence[str]) -> Script:
    """Which of `namespaces` hold a document of the app."""
    found: set[str] = set()
    for namespace in namespaces:
        row = yield one(
            "SELECT 1 AS known FROM knowledge_documents WHERE app_id = ? AND namespace = ? LIMIT 1",
            app_id,
            namespace,
        )
        if row is not None:
            found.add(namespace)
    return found


def _filter_sql(filter: dict[str, Any], dialect: str) -> tuple[str, list[Any]]:
    """SQL (`AND …` per key) keeping documents whose metadata has each key equal to the
    filter's value (a string, number, boolean or null; the service checked them)."""
    sql = ""
    args: list[Any] = []
    for key, value in filter.items():
        if dialect == "postgresql":
            sql += " AND d.metadata -> ?::text = ?::jsonb"
            args += [key, json.dumps(value)]
            continue
        path = '$."' + key + '"'  # keys are letters, digits and _ - (checked)
        if value is None:
            sql += " AND json_type(d.metadata, ?) = 'null'"
            args.append(path)
        elif isinstance(value, bool):
            sql += " AND json_type(d.metadata, ?) = ?"
            args += [path, "true" if value else "false"]
        elif isinstance(value, int | float):
            sql += (
                " AND json_type(d.metadata, ?) IN ('integer', 'real') "
                "AND json_extract(d.metadata, ?) = ?"
            )
            args += [path, path, value]
        else:
            sql += " AND json_type(d.metadata, ?) = 'text' AND json_extract(d.metadata, ?) = ?"
            args += [path, path, value]
    return sql, args


def _hit(row: Row, score: float) -> ChunkHit:
    return ChunkHit(
        row["id"],
        row["namespace"],
        row["key"],
        row["chunk"],
        row["text"],
        _json(row["metadata"]),
        score,
    )


def search_text(
    app_id: str,
    namespaces: Sequence[str],
    terms: Sequence[str],
    filter: dict[str, Any],
    limit: int,
    dialect: str,
) -> Script:
    """The app's chunks in `namespaces` that hold any of `terms` (words of letters and
    digits), best first, at most `limit`: SQLite ranks by BM25, PostgreSQL by `ts_rank`
    (normalized by the chunk's length). Not `ts_rank_cd`: on the benchmark's 10,000
    documents cover density found the answer in the top 3 for 50 % of the queries, `ts_rank`
    for 96 % (benchmarks/README.md, Knowledge store). Scores are higher for better."""
    if not terms or not namespaces:
        return []
    where, filter_args = _filter_sql(filter, dialect)
    in_namespaces = f"c.namespace IN ({_marks(len(namespaces))})"
    if dialect == "postgresql":
        rows = yield all_rows(
            f"SELECT {_COLUMNS}, ts_rank(c.tsv, q, 1) AS score "
            "FROM knowledge_chunks c JOIN knowledge_documents d ON d.id = c.document_id, "
            "to_tsquery('english', ?) q "
            f"WHERE c.app_id = ? AND {in_namespaces} AND c.tsv @@ q{where} "
            "ORDER BY score DESC, c.id LIMIT ?",
            " | ".join(terms),
            app_id,
            *namespaces,
            *filter_args,
            limit,
        )
        return [_hit(row, float(row["score"])) for row in rows]
    scope = (f"c.app_id = ? AND {in_namespaces}{where}", [app_id, *namespaces, *filter_args])
    everything = _match(terms)
    found = yield one(
        "SELECT count(*) AS n FROM knowledge_fts WHERE knowledge_fts MATCH ?", everything
    )
    matches = int(found["n"])
    if not matches:
        return []
    if matches >= _PRUNE_FROM_MATCHES and len(terms) > 1:
        rare = yield from _rare_terms(terms)
        if rare is not None:
            rows = yield from _ranked(_match(rare), None, scope, limit)
            if len(rows) >= limit:
                return rows
    rows = yield from _ranked(everything, matches, scope, limit)
    return rows


def _ranked(
    expression: str, matches: int | None, scope: tuple[str, list[Any]], limit: int
) -> Script:
    """The best `limit` chunks in scope (app, namespaces, filter) matching `expression`,
    by BM25 (the score turned round: bm25() is lower, negative, for better matches).

    Ranking inside FTS5 alone and joining only its best rows is several times faster than
    joining every match; the best rows of the whole index that are in scope are the best in
    scope, so that is exact whenever enough of them are. Else every match is joined."""
    where, args = scope
    depth = max(limit * 8, 64)
    if matches is None or matches > depth:
        rows = yield all_rows(
            f"SELECT {_COLUMNS}, f.rank FROM (SELECT rowid, bm25(knowledge_fts) AS rank "
            "FROM knowledge_fts WHERE knowledge_fts MATCH ? ORDER BY rank LIMIT ?) f "
            "JOIN knowledge_chunks c ON c.id = f.rowid "
            "JOIN knowledge_documents d ON d.id = c.document_id "
            f"WHERE {where} ORDER BY f.rank, c.id LIMIT ?",
            expression,
            depth,
            *args,
            limit,
        )
        if len(rows) >= limit:
            return [_hit(row, -float(row["rank"])) for row in rows]
    rows = yield all_rows(
        f"SELECT {_COLUMNS}, bm25(knowledge_fts) AS rank FROM knowledge_fts "
        "JOIN knowledge_chunks c ON c.id = knowledge_fts.rowid "
        "JOIN knowledge_documents d ON d.id = c.document_id "
        f"WHERE knowledge_fts MATCH ? AND {where} ORDER BY rank, c.id LIMIT ?",
        expression,
        *args,
        limit,
    )
    return [_hit(row, -float(row["rank"])) for row in rows]


def _match(terms: Sequence[str]) -> str:
    """An FTS5 expression: any of the terms, each a quoted string (terms are letters and
    digits only)."""
    return " OR ".join(f'"{term}"' for term in terms)


def _rare_terms(terms: Sequence[str]) -> Script:
    """The terms without those in more than half of the index's chunks, when some are
    rarer (else None).

    BM25 gives a word in more than half of the rows no weight (FTS5 makes its IDF 1e-6), so
    the chunks that hold a rarer term rank the same without it; a chunk holding only such
    words scores next to nothing. The caller searches again with every term when the rarer
    ones find fewer chunks than it needs."""
    total = yield one("SELECT count(*) AS n FROM knowledge_chunks")
    rare = []
    for term in terms:
        found = yield one(
            "SELECT count(*) AS n FROM knowledge_fts WHERE knowledge_fts MATCH ?", _match([term])
        )
        if found["n"] * 2 <= total["n"]:
            rare.append(term)
    return rare if rare and len(rare) < len(terms) else None


def chunk_vectors(
    app_id: str, namespaces: Sequence[str], filter: dict[str, Any], limit: int, dialect: str
) -> Script:
    """The app's chunks in `namespaces` that have a vector (newest first, at most `limit`):
    `(hit, vector bytes)` pairs with a score of 0, for the service to rank by similarity."""
    if not namespaces:
        return []
    where, filter_args = _filter_sql(filter, dialect)
    rows = yield all_rows(
        "SELECT c.id, c.namespace, c.chunk, c.text, c.vector, d.key, d.metadata "
        "FROM knowledge_chunks c JOIN knowledge_documents d ON d.id = c.document_id "
        f"WHERE c.app_id = ? AND c.namespace IN ({_marks(len(namespaces))}) "
        f"AND c.vector IS NOT NULL{where} ORDER BY c.id DESC LIMIT ?",
        app_id,
        *namespaces,
        *filter_args,
        limit,
    )
    return [(_hit(row, 0.0), bytes(row["vector"])) for row in rows]


def app_embedding_model(app_id: str) -> Script:
    """The app's embeddings model (`provider/model`), or None."""
    row = yield one("SELECT embedding_model FROM apps WHERE id = ?", app_id)
    return None if row is None else row["embedding_model"]
