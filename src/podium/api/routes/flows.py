"""`/apps/{app_id}/flows`: register (a new version on each change) and read flows, and what
a flow requires before it may start (its gates)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from podium.api.deps import AppMember, AppViewer, ServicesDep
from podium.api.gate_schemas import PrerequisitesPublic
from podium.api.schemas import FlowDetail, FlowPublic, FlowVersion
from podium.errors import InvalidInput

router = APIRouter(prefix="/apps/{app_id}/flows", tags=["flows"])


@router.post("", status_code=201)
async def register_flow(
    access: AppMember,
    services: ServicesDep,
    definition: dict[str, Any] = Body(  # noqa: B008 - FastAPI's way to take a free-form body
        description="a flow: {name, nodes, edges, state?, limits?} (see GET /node-types)"
    ),
) -> FlowPublic:
    """Validate and store a flow; the same definition again keeps its version. The body is
    JSON (`Content-Type: application/json`) or YAML (`Content-Type: application/yaml` or
    `text/yaml`, without aliases; validated exactly as JSON; bad YAML is 422 with its line and
    column)."""
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


@router.get("/{name}/prerequisites")
async def get_prerequisites(
    name: str,
    access: AppViewer,
    services: ServicesDep,
    user_id: Annotated[
        str | None, Query(max_length=200, description="API keys: the end user asked about")
    ] = None,
) -> PrerequisitesPublic:
    """What the flow requires (its gates and journeys) and what the caller (an API key: the
    `user_id` named) has still to complete before a session of it may start."""
    if user_id is not None and access.principal.kind == "user":
        raise InvalidInput("user_id is for API keys; a user sees their own prerequisites")
    user_id = access.principal.user_id if access.principal.kind == "user" else user_id
    record = await services.sessions.find_flow(access.app_id, name)  # 404 for an unknown flow
    found = await services.sessions.gates.prerequisites(access.app_id, user_id, record.name)
    return PrerequisitesPublic.of(found)
