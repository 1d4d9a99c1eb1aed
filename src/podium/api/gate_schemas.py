"""Response bodies of workflow graphs (gates and journeys) and of a flow's prerequisites."""

from __future__ import annotations

from dataclasses import asdict

from pydantic import BaseModel, Field

from podium.sessions.gates import Prerequisites, WorkflowGraph
from podium.storage.workflow_graphs import WorkflowGraphRecord


class GatePublic(BaseModel):
    flow: str
    requires: list[str] = Field(description="flows the user must have completed, all of them")
    message: str | None = Field(description="shown when this gate alone blocks the flow")


class JourneyPublic(BaseModel):
    name: str
    flows: list[str]
    gated: bool = Field(description="each flow requires the one before it")


class WorkflowGraphPublic(BaseModel):
    name: str
    description: str | None
    gates: list[GatePublic]
    journeys: list[JourneyPublic]
    updated_at: float

    @classmethod
    def of(cls, record: WorkflowGraphRecord) -> WorkflowGraphPublic:
        graph = WorkflowGraph.model_validate(record.graph, strict=False)
        return cls(
            name=record.name,
            description=graph.description,
            gates=[GatePublic(**gate.model_dump()) for gate in graph.gates],
            journeys=[JourneyPublic(**journey.model_dump()) for journey in graph.journeys],
            updated_at=record.updated_at,
        )


class JourneyPlacePublic(BaseModel):
    graph: str = Field(description="the workflow graph that declares the journey")
    name: str
    flows: list[str]
    gated: bool
    position: int = Field(description="the flow's index in `flows` (0: the first)")
    completed: list[str] = Field(description="the journey's flows the user has completed")


class PrerequisitesPublic(BaseModel):
    """What a flow requires and what the user has still to complete (`ok`: it may start)."""

    flow: str
    ok: bool
    message: str = Field(description='"" when ok, else e.g. "Please complete AppBuilder first"')
    requires: list[str]
    missing: list[str]
    journeys: list[JourneyPlacePublic]

    @classmethod
    def of(cls, found: Prerequisites) -> PrerequisitesPublic:
        return cls(
            flow=found.flow,
            ok=found.ok,
            message=found.message,
            requires=found.requires,
            missing=found.missing,
            journeys=[JourneyPlacePublic(**asdict(place)) for place in found.journeys],
        )
