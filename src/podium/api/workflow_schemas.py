"""Request and response bodies of the workflow patterns (`/workflows`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from podium.agents.messages import AGENT_PATTERN
from podium.api.schemas import Body, RunStatus

WorkflowType = Literal["sequential", "conditional", "collaborative"]
AgentName = Annotated[str, Field(pattern=AGENT_PATTERN)]


class WorkflowExecute(Body):
    workflow_type: WorkflowType
    conversation_id: str | None = Field(
        default=None,
        max_length=80,
        description="a chat session whose last messages the first agent is given",
    )
    participating_agents: list[AgentName] | None = Field(
        default=None,
        max_length=20,
        description="the agents, in order (left out: the pattern's defaults)",
    )
    workflow_config: dict[str, Any] = Field(
        default_factory=dict,
        description="sequential: {model?}; conditional: {routing_rules: {conditions: "
        "[{field, operator, value, next_agent}, {default}]}, classifier?, model?}; "
        "collaborative: {max_rounds?, model?}",
    )
    input_data: dict[str, Any] = Field(
        description='the run\'s input; `message` is the request, e.g. {"message": "I need a '
        'website"}'
    )


class WorkflowState(Body):
    action: Literal["pause", "resume", "cancel"]


class WorkflowPublic(BaseModel):
    workflow_id: str = Field(description="the id of the workflow's run")
    run_id: str
    session_id: str
    flow: str
    workflow_type: WorkflowType | None = Field(
        description="null for a run not started by /workflows/execute"
    )
    participating_agents: list[str] | None
    conversation_id: str | None
    status: RunStatus
    output: dict[str, Any] | None
    error: str | None
    steps: int
    created_at: float
    ended_at: float | None


NodeStatus = Literal["pending", "running", "waiting", "succeeded", "failed", "skipped", "cancelled"]


class VisualNode(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    type: str
    label: str
    status: NodeStatus
    steps: int = Field(description="how many steps the node has run (a loop's iterations)")
    agent: str | None = None
    error: str | None = None


class VisualEdge(BaseModel):
    model_config = ConfigDict(extra="allow")

    source: str
    target: str
    status: Literal["pending", "fired", "dead"]
    loop: bool = False
    fired: int | None = Field(default=None, description="a loop edge: how many times it fired")


class WorkflowVisualization(BaseModel):
    workflow_id: str
    run_id: str
    session_id: str
    flow: str
    workflow_type: WorkflowType | None
    status: RunStatus
    nodes: list[VisualNode]
    edges: list[VisualEdge]
