"""`/apps/{app_id}/knowledge`: namespaced documents and search over them (docs/knowledge.md).

Viewers read and search, members write. Namespaces starting with `_` are Podium's own
(the agent directory, memory search) and are refused here.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from podium import jsonvalue
from podium.api.bodylimit import BodyLimit
from podium.api.deps import AppMember, AppViewer, ServicesDep
from podium.api.errors import ErrorEnvelope
from podium.api.knowledge_schemas import (
    DocumentPage,
    DocumentPublic,
    DocumentsPut,
    DocumentSummary,
    DocumentsWritten,
    NamespacePublic,
    SearchResult,
)
from podium.config import Settings
from podium.errors import NotFound
from podium.knowledge.service import KnowledgeService

router = APIRouter(prefix="/apps/{app_id}/knowledge", tags=["knowledge"])

# Checked by the service, which says what is wrong (a reserved name, a bad character).
Namespace = Annotated[str, Path(max_length=100, description="letters, digits and _ . -")]
Key = Annotated[str, Path(max_length=300, description="the document's key (may hold /)")]
UPSTREAM: dict[int | str, dict[str, Any]] = {
    502: {"model": ErrorEnvelope, "description": "the app's embeddings model failed"}
}


def batch_limit(prefix: str, settings: Settings) -> BodyLimit:
    """The bound on a batch of documents' body (PODIUM_KNOWLEDGE_MAX_BATCH_BYTES), which
    may be larger than other requests' (PODIUM_MAX_BODY_BYTES)."""
    return BodyLimit(
        re.compile(re.escape(prefix) + r"/apps/[^/]+/knowledge/[^/]+/documents"),
        settings.knowledge_max_batch_bytes,
        "PODIUM_KNOWLEDGE_MAX_BATCH_BYTES",
        "; send the documents in several batches",
    )


def _knowledge(services: ServicesDep) -> KnowledgeService:
    service: KnowledgeService = services.podium.service("knowledge")
    return service


@router.get("")
async def list_namespaces(access: AppViewer, services: ServicesDep) -> list[NamespacePublic]:
    """The app's namespaces with their numbers of documents and chunks."""
    found = await _knowledge(services).list_namespaces(access.app_id)
    return [NamespacePublic.model_validate(item) for item in found]


@router.post("/{namespace}/documents", responses=UPSTREAM)
async def put_documents(
    namespace: Namespace, body: DocumentsPut, access: AppMember, services: ServicesDep
) -> DocumentsWritten:
    """Create or replace documents by key (a batch, all or nothing); each is cut into
    chunks and indexed (and embedded, when the app has an embeddings model)."""
    documents = [document.model_dump() for document in body.documents]
    written = await _knowledge(services).put_documents(
        access.app_id,
        namespace,
        documents,
        actor=access.principal.id,
        chunk_chars=body.chunk_chars,
        overlap_chars=body.overlap_chars,
    )
    return DocumentsWritten.model_validate(written)


@router.get("/{namespace}/documents")
async def list_documents(
    namespace: Namespace,
    access: AppViewer,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> DocumentPage:
    """The namespace's documents by key, without their text, a page at a time (404 for a
    namespace with no documents)."""
    items = await _knowledge(services).list_documents(
        access.app_id, namespace, limit=limit, after=cursor
    )
    return DocumentPage(
        items=[DocumentSummary.model_validate(item) for item in items],
        next_cursor=items[-1]["key"] if len(items) == limit else None,
    )


@router.get("/{namespace}/documents/{key:path}")
async def get_document(
    namespace: Namespace, key: Key, access: AppViewer, services: ServicesDep
) -> DocumentPublic:
    document = await _knowledge(services).get_document(access.app_id, namespace, key)
    return DocumentPublic.model_validate(document)


@router.delete("/{namespace}/documents/{key:path}", status_code=204)
async def delete_document(
    namespace: Namespace, key: Key, access: AppMember, services: ServicesDep
) -> Response:
    """Delete the document and its chunks (404 when there is none)."""
    knowledge = _knowledge(services)
    if not await knowledge.delete_document(
        access.app_id, namespace, key, actor=access.principal.id
    ):
        raise NotFound(f"no document {key!r} in knowledge namespace {namespace!r}")
    return Response(status_code=204)


@router.get("/{namespace}/search", responses=UPSTREAM)
async def search(
    namespace: Namespace,
    access: AppViewer,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=10_000, description="the words to search for")] = "",
    k: Annotated[int, Query(description="how many chunks, 1 to PODIUM_KNOWLEDGE_MAX_K")] = 5,
    filter: Annotated[
        str | None,
        Query(
            max_length=4096,
            description='a JSON object of metadata keys and values, e.g. {"tier":"hot"}',
        ),
    ] = None,
) -> SearchResult:
    """The `k` chunks that best answer `q`, best first, with the query words each holds."""
    conditions: Any = None
    if filter is not None:
        conditions = jsonvalue.loads(filter, "the filter (a JSON object in the query string)")
    result = await _knowledge(services).search(access.app_id, namespace, q, k=k, filter=conditions)
    return SearchResult.model_validate(result)
