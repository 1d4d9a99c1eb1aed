"""`/apps/{app_id}/flows`: register (a new version on each change) and read flows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from podium.api.deps import AppMember, AppViewer, ServicesDep
from podium.api.schemas import FlowDetail, FlowPublic, FlowVersion

router = APIRouter(prefix="/apps/{app_id}/flows", tags=["flows"])


@router.post("", status_code=201)
async def register_flow(
    access: AppMember,
    services: ServicesDep,
    definition: dict[str, Any] = Body(  # noqa: B008 - FastAPI's way to take a free-form body
        description="a flow: {name, nodes, edges, state?, limits?} (see GET /node-types)"
    ),
) -> FlowPublic:
    """Validate and store a flow; the same definition again keeps its version."""
    record = await services.sessions.register_flow(access.app_id, definition)
    return FlowPublic.of(record, shipped=False)


@router.get("")
async def list_flows(access: AppViewer, services: ServicesDep) -> list[FlowPublic]:
    """The app's flows (newest versions) and the flows shipped with the server."""
    flows = await services.sessions.list_flows(access.app_id)
    return [FlowPublic.of(record, shipped) for record, shipped in flows]


@router.get("/{name}")
async def get_flow(name: str, access: AppViewer, services: ServicesDep) -> FlowDetail:
    """A flow's newest version, with every version's id and time."""
    versions, shipped = await services.sessions.get_flow_versions(access.app_id, name)
    latest = FlowPublic.of(versions[0], shipped)
    return FlowDetail(
        **latest.model_dump(),
        versions=[
            FlowVersion(id=v.id, version=v.version, created_at=v.created_at) for v in versions
        ],
    )
