"""`/apps/{app_id}/workflows`: the workflow patterns (sequential, conditional, collaborative).

A workflow's id is its run's id. Members start and steer workflows, viewers follow them; the
visualization is also pushed over the WebSocket (`workflow.subscribe`).
"""

from __future__ import annotations

from fastapi import APIRouter

from podium.api.deps import AppMember, AppViewer, ServicesDep
from podium.api.workflow_schemas import (
    WorkflowExecute,
    WorkflowPublic,
    WorkflowState,
    WorkflowVisualization,
)
from podium.workflows.service import workflow_json

router = APIRouter(prefix="/apps/{app_id}/workflows", tags=["workflows"])


@router.post("/execute", status_code=201)
async def execute_workflow(
    body: WorkflowExecute, access: AppMember, services: ServicesDep
) -> WorkflowPublic:
    """Build the pattern's flow from the agents and config, and start it (a session)."""
    view = await services.workflows.execute(
        access.app_id,
        body.workflow_type,
        participating_agents=body.participating_agents,
        workflow_config=body.workflow_config,
        input_data=body.input_data,
        conversation_id=body.conversation_id,
        user_id=access.principal.user_id,
    )
    return WorkflowPublic.model_validate(workflow_json(view))


@router.get("/{run_id}")
async def get_workflow(run_id: str, access: AppViewer, services: ServicesDep) -> WorkflowPublic:
    """The workflow's status, output or error."""
    view = await services.workflows.get(access.app_id, run_id)
    return WorkflowPublic.model_validate(workflow_json(view))


@router.patch("/{run_id}/state")
async def set_workflow_state(
    run_id: str, body: WorkflowState, access: AppMember, services: ServicesDep
) -> WorkflowPublic:
    """`pause` (at the next step boundary), `resume` or `cancel` the workflow."""
    view = await services.workflows.set_state(access.app_id, run_id, body.action)
    return WorkflowPublic.model_validate(workflow_json(view))


@router.get("/{run_id}/visualization")
async def get_workflow_visualization(
    run_id: str, access: AppViewer, services: ServicesDep
) -> WorkflowVisualization:
    """The flow's nodes and edges with their statuses in this run."""
    data = await services.workflows.visualization(access.app_id, run_id)
    return WorkflowVisualization.model_validate(data)
