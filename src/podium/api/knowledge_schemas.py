"""Request and response bodies of the knowledge store (`/apps/{app}/knowledge`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from podium.api.schemas import Body
from podium.knowledge.chunking import MAX_CHUNK_CHARS, MIN_CHUNK_CHARS


class DocumentIn(Body):
    key: str = Field(
        min_length=1,
        max_length=200,
        description="unique in the namespace: letters, digits and _ . : @ - /, e.g. "
        "'guides/intro.md'; a document of the same key is replaced",
        examples=["guides/intro.md"],
    )
    text: str = Field(min_length=1, description="the document's text (Markdown is fine)")
    metadata: dict[str, Any] | None = Field(
        default=None,
        description="a JSON object kept with the document; searches filter on its top-level keys",
        examples=[{"tier": "hot", "source": "handbook"}],
    )


class DocumentsPut(Body):
    documents: list[DocumentIn] = Field(
        min_length=1,
        description="created or replaced by key, all in one transaction (at most "
        "PODIUM_KNOWLEDGE_MAX_BATCH_DOCUMENTS)",
    )
    chunk_chars: int | None = Field(
        default=None,
        ge=MIN_CHUNK_CHARS,
        le=MAX_CHUNK_CHARS,
        description="the most characters of a chunk (default PODIUM_KNOWLEDGE_CHUNK_CHARS)",
    )
    overlap_chars: int | None = Field(
        default=None,
        ge=0,
        description="characters a chunk repeats of the one before, under half of chunk_chars "
        "(default PODIUM_KNOWLEDGE_CHUNK_OVERLAP_CHARS)",
    )


class DocumentWritten(BaseModel):
    key: str
    chunks: int
    updated_at: float


class DocumentsWritten(BaseModel):
    namespace: str
    documents: list[DocumentWritten]


class DocumentPublic(BaseModel):
    namespace: str
    key: str
    text: str
    metadata: dict[str, Any]
    chunks: int
    actor: str | None = Field(description="who wrote it last (usr_…, key_…)")
    updated_at: float


class DocumentSummary(BaseModel):
    key: str
    metadata: dict[str, Any]
    chunks: int
    chars: int
    updated_at: float


class DocumentPage(BaseModel):
    items: list[DocumentSummary]
    next_cursor: str | None


class NamespacePublic(BaseModel):
    namespace: str
    documents: int
    chunks: int


class SearchHit(BaseModel):
    namespace: str
    key: str
    chunk: int = Field(description="the chunk's number in its document, from 0")
    text: str = Field(description="the chunk's text")
    score: float = Field(
        description="higher is better; comparable within one answer only (text: BM25 on "
        "SQLite, cover density on PostgreSQL; hybrid: reciprocal rank fusion)"
    )
    metadata: dict[str, Any]
    matched: list[str] = Field(description="the query's words the chunk holds")


class SearchResult(BaseModel):
    query: str
    mode: Literal["text", "hybrid"]
    note: str | None = Field(description="why the search is full text only, and how to change it")
    hits: list[SearchHit]
