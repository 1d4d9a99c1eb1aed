"""The pack's routes, under /api/v1/apps/{app_id}/packs/guestbook (members of apps that
enabled the pack only: the mount checks both)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from guestbook.entries import SIGNED, add_entry, get_entry, list_entries
from podium.api.deps import AppMember, AppViewer, ServicesDep
from podium.errors import NotFound
from podium.events.envelope import Event

router = APIRouter()


class EntryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$")
    message: str = Field(min_length=1, max_length=2000)


@router.post("/entries", status_code=201)
async def sign(body: EntryCreate, access: AppMember, services: ServicesDep) -> dict[str, Any]:
    """Sign the guestbook: the entry is stored and `guestbook.signed` is emitted."""
    store = services.podium.store
    entry = await store.run_script(lambda: add_entry(access.app_id, body.name, body.message))
    data = {"entry_id": entry["id"], "name": body.name}
    await store.append_events(access.app_id, [Event(SIGNED, access.app_id, None, None, data)])
    return entry  # type: ignore[no-any-return]


@router.get("/entries")
async def entries(
    access: AppViewer,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[dict[str, Any]]:
    """The app's entries, oldest first."""
    found = await services.podium.store.run_read(lambda: list_entries(access.app_id, limit))
    return found  # type: ignore[no-any-return]


@router.get("/entries/{entry_id}")
async def entry(entry_id: str, access: AppViewer, services: ServicesDep) -> dict[str, Any]:
    found = await services.podium.store.run_read(lambda: get_entry(access.app_id, entry_id))
    if found is None:
        raise NotFound(f"no guestbook entry {entry_id!r} in this app")
    return found  # type: ignore[no-any-return]
