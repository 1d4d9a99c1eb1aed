"""`/apps/{app_id}/workflow-graphs`: the gates and journeys of the app's packs, one graph per
pack (see docs/gates.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Response

from podium.api.deps import AppAdmin, AppViewer, ServicesDep
from podium.api.gate_schemas import WorkflowGraphPublic

router = APIRouter(prefix="/apps/{app_id}/workflow-graphs", tags=["gates"])


@router.get("")
async def list_workflow_graphs(
    access: AppViewer, services: ServicesDep
) -> list[WorkflowGraphPublic]:
    """The app's workflow graphs, by name."""
    records = await services.sessions.gates.list_graphs(access.app_id)
    return [WorkflowGraphPublic.of(record) for record in records]


@router.put("/{name}")
async def put_workflow_graph(
    name: str,
    access: AppAdmin,
    services: ServicesDep,
    definition: dict[str, Any] = Body(  # noqa: B008 - FastAPI's way to take a free-form body
        description="a workflow graph: {name?, description?, gates: [{flow, requires, "
        "message?}], journeys: [{name, flows, gated?}]} (the name defaults to the path's)"
    ),
) -> WorkflowGraphPublic:
    """Create or replace the graph `name`: validated (422 `workflow_graph_invalid` with
    `details.problems`), refused when its requirements would form a cycle."""
    record = await services.sessions.gates.put_graph(access.app_id, name, definition)
    return WorkflowGraphPublic.of(record)


@router.get("/{name}")
async def get_workflow_graph(
    name: str, access: AppViewer, services: ServicesDep
) -> WorkflowGraphPublic:
    return WorkflowGraphPublic.of(await services.sessions.gates.get_graph(access.app_id, name))


@router.delete("/{name}", status_code=204)
async def delete_workflow_graph(name: str, access: AppAdmin, services: ServicesDep) -> Response:
    """Remove the graph: its gates no longer apply."""
    await services.sessions.gates.delete_graph(access.app_id, name)
    return Response(status_code=204)
