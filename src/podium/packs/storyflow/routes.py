"""The storyflow routes, mounted at /api/v1/apps/{app_id}/packs/storyflow (the mount refuses
a caller who is not a member of the app, and an app that has not enabled the pack):

    GET    /characters?limit=&after=        the app's characters by name (viewer+)
    POST   /characters                      add one (member+)
    GET    /characters/{character_id}       one (viewer+)
    PATCH  /characters/{character_id}       change the fields sent (member+)
    DELETE /characters/{character_id}       delete it (member+)
    GET    /components                      the 13 shipped, then the app's own (viewer+)
    GET    /components/{component_id}       one (viewer+)
    POST   /components                      add one of the app's own (admin)
    PUT    /components/{component_id}       replace one of the app's own (admin)
    DELETE /components/{component_id}       delete one of the app's own (admin)
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from podium.api.deps import AppAdmin, AppMember, AppViewer, ServicesDep
from podium.packs.storyflow import catalogue
from podium.packs.storyflow import characters as chars

router = APIRouter(tags=["pack: storyflow"])
CharacterId = Annotated[str, Path(max_length=80, description="the character's id (chr_…)")]
ComponentId = Annotated[
    str, Path(max_length=64, pattern=catalogue.COMPONENT_ID_PATTERN, description="its id")
]


@router.get("/characters")
async def list_characters(
    access: AppViewer,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=chars.MAX_PAGE)] = chars.DEFAULT_PAGE,
    after: Annotated[str | None, Query(max_length=chars.MAX_NAME)] = None,
) -> list[dict[str, Any]]:
    """The app's characters ordered by name; `after` (a name) pages on."""
    found: list[dict[str, Any]] = await services.podium.store.run_read(
        lambda: chars.list_page(access.app_id, limit, after)
    )
    return found


@router.post("/characters", status_code=201)
async def create_character(
    body: chars.CharacterCreate, access: AppMember, services: ServicesDep
) -> dict[str, Any]:
    """A character the consistentCharacter and sceneBuilder nodes can name (409 when the
    app has one of that name)."""
    cap = services.settings.storyflow_max_characters
    fields = body.model_dump()
    created: dict[str, Any] = await services.podium.store.run_script(
        lambda: chars.create(access.app_id, fields, cap)
    )
    return created


@router.get("/characters/{character_id}")
async def get_character(
    character_id: CharacterId, access: AppViewer, services: ServicesDep
) -> dict[str, Any]:
    found: dict[str, Any] = await services.podium.store.run_read(
        lambda: chars.get(access.app_id, character_id)
    )
    return found


@router.patch("/characters/{character_id}")
async def update_character(
    character_id: CharacterId,
    body: chars.CharacterPatch,
    access: AppMember,
    services: ServicesDep,
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    updated: dict[str, Any] = await services.podium.store.run_script(
        lambda: chars.update(access.app_id, character_id, changes)
    )
    return updated


@router.delete("/characters/{character_id}", status_code=204)
async def delete_character(
    character_id: CharacterId, access: AppMember, services: ServicesDep
) -> Response:
    await services.podium.store.run_script(lambda: chars.delete(access.app_id, character_id))
    return Response(status_code=204)


@router.get("/components")
async def list_components(access: AppViewer, services: ServicesDep) -> list[dict[str, Any]]:
    """What the editor's palette shows: the shipped components, then the app's own."""
    found: list[dict[str, Any]] = await services.podium.store.run_read(
        lambda: catalogue.list_components(access.app_id)
    )
    return found


@router.get("/components/{component_id}")
async def get_component(
    component_id: ComponentId, access: AppViewer, services: ServicesDep
) -> dict[str, Any]:
    found: dict[str, Any] = await services.podium.store.run_read(
        lambda: catalogue.get_component(access.app_id, component_id)
    )
    return found


def _checked(
    services: ServicesDep, component_id: str, body: catalogue.ComponentBody
) -> dict[str, Any]:
    data = body.model_dump(mode="json", exclude={"id"})
    catalogue.check_component({"id": component_id, **data}, services.podium.registry)
    return data


@router.post("/components", status_code=201)
async def create_component(
    body: catalogue.ComponentCreate, access: AppAdmin, services: ServicesDep
) -> dict[str, Any]:
    """A component of the app's own: its node type must be installed and its ports and
    fields the type's (422 naming what is not)."""
    data = _checked(services, body.id, body)
    cap = services.settings.storyflow_max_components
    created: dict[str, Any] = await services.podium.store.run_script(
        lambda: catalogue.create_component(access.app_id, body.id, data, cap)
    )
    return created


@router.put("/components/{component_id}")
async def replace_component(
    component_id: ComponentId,
    body: catalogue.ComponentBody,
    access: AppAdmin,
    services: ServicesDep,
) -> dict[str, Any]:
    """Replace one of the app's own components whole (a shipped one is 409)."""
    data = _checked(services, component_id, body)
    replaced: dict[str, Any] = await services.podium.store.run_script(
        lambda: catalogue.replace_component(access.app_id, component_id, data)
    )
    return replaced


@router.delete("/components/{component_id}", status_code=204)
async def delete_component(
    component_id: ComponentId, access: AppAdmin, services: ServicesDep
) -> Response:
    await services.podium.store.run_script(
        lambda: catalogue.delete_component(access.app_id, component_id)
    )
    return Response(status_code=204)
