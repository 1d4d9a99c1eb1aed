"""`/apps/{app_id}/memory/{scope}/{scope_id}`: shared memory, by scope and key.

The scope id is the session's, run's or user's id; for the `app` scope it is the app's id or
`-`. Viewers read, members write.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from podium.api.deps import AppAccess, AppMember, AppViewer, ServicesDep
from podium.api.memory_schemas import (
    MemoryEntryPublic,
    MemoryPage,
    MemoryPut,
    MemoryScope,
    MemorySearchHit,
    MemorySearchResult,
)
from podium.errors import KnowledgeInvalid
from podium.memory.service import KEY_PATTERN, PREFIX_PATTERN, SCOPE_ID_PATTERN
from podium.storage.memory import Origin

router = APIRouter(prefix="/apps/{app_id}/memory/{scope}/{scope_id}", tags=["memory"])

ScopeId = Annotated[
    str,
    Path(
        pattern=SCOPE_ID_PATTERN,
        description="the session's, run's or user's id; for the app scope the app's id or -",
    ),
]
Key = Annotated[str, Path(pattern=KEY_PATTERN, description="letters, digits and _ . : @ -")]


def _origin(access: AppAccess) -> Origin:
    return Origin(actor=access.principal.id)


@router.get("")
async def list_memory(
    scope: MemoryScope,
    scope_id: ScopeId,
    access: AppViewer,
    services: ServicesDep,
    prefix: Annotated[str, Query(pattern=PREFIX_PATTERN)] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(pattern=KEY_PATTERN)] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=10_000,
            description="search: the entries that best match these words (in their key or "
            "value), best first, at most `limit` (and PODIUM_KNOWLEDGE_MAX_K)",
        ),
    ] = None,
) -> MemoryPage | MemorySearchResult:
    """The scope's entries whose key starts with `prefix`, by key, a page at a time; with
    `q`, the entries that best match it instead."""
    if q is not None:
        if prefix or cursor is not None:
            raise KnowledgeInvalid(
                "q searches the scope's entries, prefix and cursor page through them by key: "
                "send one or the other"
            )
        hits = await services.memory.search(access.app_id, scope, scope_id, q, limit=limit)
        items = [
            MemorySearchHit.model_validate(
                {**hit.entry.to_json(), "score": hit.score, "matched": hit.matched}
            )
            for hit in hits
        ]
        return MemorySearchResult(query=q, mode="text", items=items)
    page = await services.memory.list(
        access.app_id, scope, scope_id, prefix=prefix, limit=limit, cursor=cursor
    )
    return MemoryPage(
        items=[MemoryEntryPublic.of(e) for e in page.items], next_cursor=page.next_cursor
    )


@router.get("/{key}")
async def get_memory(
    scope: MemoryScope, scope_id: ScopeId, key: Key, access: AppViewer, services: ServicesDep
) -> MemoryEntryPublic:
    """The entry (404 when the key is not set or has expired)."""
    entry = await services.memory.get(access.app_id, scope, scope_id, key)
    return MemoryEntryPublic.of(entry)


@router.put("/{key}")
async def put_memory(
    scope: MemoryScope,
    scope_id: ScopeId,
    key: Key,
    body: MemoryPut,
    access: AppMember,
    services: ServicesDep,
) -> MemoryEntryPublic:
    """Create or replace the entry; with `ttl_seconds` it expires, without it it does not."""
    entry = await services.memory.set(
        access.app_id,
        scope,
        scope_id,
        key,
        body.value,
        ttl=body.ttl_seconds,
        origin=_origin(access),
    )
    return MemoryEntryPublic.of(entry)


@router.delete("/{key}", status_code=204)
async def delete_memory(
    scope: MemoryScope, scope_id: ScopeId, key: Key, access: AppMember, services: ServicesDep
) -> Response:
    """Delete the entry (404 when the key is not set or has expired)."""
    await services.memory.delete(access.app_id, scope, scope_id, key, origin=_origin(access))
    return Response(status_code=204)
