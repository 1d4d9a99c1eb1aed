"""`/apps/{app_id}/packs`: the installed packs, enabled per app, and their handlers' state;
and the mount of each pack's own routes under `/apps/{app_id}/packs/{name}` (docs/packs.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Response

from podium.api.deps import AppAdmin, AppViewer, CurrentPrincipal, ServicesDep
from podium.api.pack_schemas import PackHandlersPublic, PackPublic
from podium.errors import NotFound
from podium.packs.base import Pack

router = APIRouter(prefix="/apps/{app_id}/packs", tags=["packs"])

PackName = Annotated[str, Path(max_length=32, description="a pack's name, e.g. leads")]


@router.get("")
async def list_packs(access: AppViewer, services: ServicesDep) -> list[PackPublic]:
    """Every installed pack, with whether this app enabled it."""
    views = await services.packs.list(access.app_id)
    return [PackPublic.of(view.to_json()) for view in views]


@router.put("/{name}")
async def enable_pack(name: PackName, access: AppAdmin, services: ServicesDep) -> PackPublic:
    """Enable the pack for this app (app admins): its flows and agents are registered here,
    its workflow graph applied and its seed run. Enabling again updates them."""
    view = await services.packs.enable(access.app_id, name, access.principal.user_id)
    return PackPublic.of(view.to_json())


@router.delete("/{name}", status_code=204)
async def disable_pack(name: PackName, access: AppAdmin, services: ServicesDep) -> Response:
    """Disable the pack: its routes answer 404, its handlers and gates stop for this app; its
    flows, agents and rows stay."""
    await services.packs.disable(access.app_id, name)
    return Response(status_code=204)


@router.get("/{name}/handlers")
async def pack_handlers(
    name: PackName, access: AppAdmin, services: ServicesDep
) -> PackHandlersPublic:
    """Where each of the pack's event handlers is in this app's log, and the events it is
    retrying or gave up on (app admins: errors may name the app's integrations)."""
    return PackHandlersPublic.model_validate(await services.packs.handlers(access.app_id, name))


def enabled_pack_access(pack: str):  # type: ignore[no-untyped-def]
    """The dependency every route of the pack gets: the caller is a member of the app (else
    404, as on every app route) and the app enabled the pack (else 404 saying how)."""

    async def dependency(
        services: ServicesDep,
        principal: CurrentPrincipal,
        app_id: Annotated[str, Path(max_length=80, description="the app's id (app_…)")],
    ) -> None:
        await services.tenancy.require(principal, app_id, "viewer")
        if not await services.packs.is_enabled(app_id, pack):
            raise NotFound(
                f"pack {pack!r} is not enabled for this app; PUT /api/v1/apps/{app_id}/packs/{pack}"
            )

    return dependency


def app_route_segments(app: FastAPI, prefix: str) -> set[str]:
    """The first path segment after `{prefix}/apps/{app_id}/` of every route mounted so far
    (`agents`, `sessions`, `packs`, …)."""
    import fastapi.routing

    start = f"{prefix}/apps/{{app_id}}/"
    # FastAPI ≥ 0.16x keeps included routers lazily; iter_route_contexts flattens them.
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    found = set()
    for route in flatten(app.routes) if flatten else app.routes:
        path = getattr(route, "path", "")
        if path.startswith(start):
            found.add(path[len(start) :].split("/")[0])
    return found


def mount_pack_routers(app: FastAPI, prefix: str, packs: tuple[Pack, ...]) -> None:
    """Mount each pack's router under `{prefix}/apps/{app_id}/packs/{name}`, or
    `{prefix}/apps/{app_id}/{name}` for a pack that asks to be mounted at the app's root
    (refused, stopping the server, when a core route already uses that segment)."""
    from podium.api.errors import ERROR_RESPONSES
    from podium.packs.loader import PackLoadError

    taken = app_route_segments(app, prefix)
    for pack in packs:
        if pack.router is None:
            continue
        if pack.mount_at_app_root and pack.name in taken:
            raise PackLoadError(
                f"pack {pack.name!r} asks to mount its routes at /apps/{{app_id}}/{pack.name}, "
                f"which the core API uses already; rename the pack or set "
                "mount_at_app_root=False (its routes then live under /packs/)"
            )
        app.include_router(
            pack.router,
            prefix=prefix + pack.route_prefix,
            dependencies=[Depends(enabled_pack_access(pack.name))],
            responses=ERROR_RESPONSES,
            tags=[f"pack: {pack.name}"],
        )
