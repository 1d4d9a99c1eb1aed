"""Workflows: start a pattern (`patterns.build_flow`) as a session, follow it, pause, resume or
cancel it, and draw it (nodes and edges with their live statuses).

A workflow is an ordinary session of the pattern's flow (`workflow_<pattern>`, a new version
whenever the agents or config change) whose metadata records the pattern; its id is its run's
id. The visualization is derived from the run's progress (edge states, resolved nodes) and its
steps, so any run can be drawn, not only those started here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podium.agents.service import AgentService
from podium.agents.services import AgentServices
from podium.engine import scheduler
from podium.engine.caps import Caps
from podium.engine.nodes.template import render, renders_inline
from podium.errors import Conflict, InvalidInput, WorkflowInvalid
from podium.sessions.service import SessionService
from podium.storage import queries
from podium.storage.records import RunRecord, SessionRecord
from podium.workflows.patterns import DEFAULT_AGENTS, build_flow

ACTIONS = ("pause", "resume", "cancel")
RUNNING = ("running", "pausing")
CONVERSATION_MESSAGES = 20  # of a conversation_id, given to the first agent
EDGE_STATUS = {scheduler.PENDING: "pending", scheduler.FIRED: "fired", scheduler.DEAD: "dead"}


@dataclass(slots=True)
class WorkflowView:
    run: RunRecord
    workflow: dict[str, Any] | None  # what /workflows/execute recorded (None: any other run)
    flow_name: str


class WorkflowService:
    """Every call names the app; another app's run is NotFound."""

    def __init__(self, sessions: SessionService, agents: AgentService) -> None:
        self.sessions = sessions
        self.agents = agents
        self.podium = sessions.podium
        self.store = sessions.store

    async def execute(
        self,
        app_id: str,
        workflow_type: str,
        *,
        participating_agents: list[str] | None,
        workflow_config: dict[str, Any],
        input_data: dict[str, Any],
        conversation_id: str | None,
        user_id: str | None,
    ) -> WorkflowView:
        """Build the pattern's flow, check its agents exist, and start it."""
        caps = Caps.from_settings(self.podium.settings)
        flow = build_flow(workflow_type, participating_agents, workflow_config, caps)
        services: AgentServices = self.podium.service("agents")
        known = await services.all_definitions(app_id)
        named = list(participating_agents or DEFAULT_AGENTS[workflow_type])
        missing = [name for name in named if name not in known]
        if missing:
            raise WorkflowInvalid(
                f"participating_agents: no agent named {', '.join(map(repr, missing))} in this "
                f"app; the agents are {', '.join(sorted(known))}",
                details={"missing": missing},
            )
        disabled = [name for name in named if not known[name].enabled]
        if disabled:
            raise Conflict(
                f"participating_agents: agent {disabled[0]!r} is disabled in this app; an admin "
                f"enables it with POST /api/v1/apps/{app_id}/agents/{disabled[0]}/enable",
                details={"disabled": disabled},
            )
        message = input_data.get("message")
        if not isinstance(message, str) or not message.strip():
            raise WorkflowInvalid(
                'input_data needs a message (a non-empty string), e.g. {"message": "I need a '
                'website"}'
            )
        run_input = dict(input_data)
        if conversation_id is not None:
            history = await self.agents.history(app_id, conversation_id, CONVERSATION_MESSAGES)
            run_input["conversation"] = [
                {"role": event.data.get("role"), "content": event.data.get("content")}
                for event in history
            ]
        workflow = {
            "type": workflow_type,
            "participating_agents": named,
            "config": workflow_config,
            "conversation_id": conversation_id,
        }
        view = await self.sessions.create_session(
            app_id, flow.definition(), run_input, metadata={"workflow": workflow}, user_id=user_id
        )
        assert view.run is not None  # a new session has its first run
        return WorkflowView(view.run, workflow, flow.name)

    async def get(self, app_id: str, run_id: str) -> WorkflowView:
        view, _ = await self._load(app_id, run_id)
        return view

    async def _load(self, app_id: str, run_id: str) -> tuple[WorkflowView, SessionRecord]:
        run = await self.store.get_run(run_id, app_id=app_id)  # NotFound for another app's
        session = await self.store.get_session(run.session_id, app_id=app_id)
        flow = await self.sessions.flow_by_id(run.flow_id)
        workflow = (session.metadata or {}).get("workflow")
        view = WorkflowView(
            run, workflow if isinstance(workflow, dict) else None, flow.name if flow else ""
        )
        return view, session

    async def set_state(self, app_id: str, run_id: str, action: str) -> WorkflowView:
        """`pause`, `resume` or `cancel` the workflow's run (NotFound for another app's)."""
        if action == "pause":
            await self.podium.pause(run_id, app_id=app_id)
        elif action == "resume":
            await self.podium.resume(run_id, app_id=app_id)
        elif action == "cancel":
            await self.store.cancel_run(run_id, app_id=app_id)
        else:
            raise InvalidInput(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
        return await self.get(app_id, run_id)

    async def visualization(
        self, app_id: str, run_id: str, *, live_running: set[str] | None = None
    ) -> dict[str, Any]:
        """The flow's nodes and edges with their statuses in this run.

        A node is `pending`, `running`, `waiting` (for a person), `succeeded`, `failed`,
        `skipped` or `cancelled` (the run was cancelled before it ran); an edge `pending`,
        `fired` or `dead` (a loop edge: how many times it fired). `live_running`: nodes known
        to have started (from live `node.started` events).
        """
        view, session = await self._load(app_id, run_id)
        run = view.run
        graph = await self.podium.graphs.get(run.flow_id)
        progress = (
            scheduler.Progress.from_json(run.progress)
            if run.progress is not None
            else scheduler.Progress.start(graph)
        )
        state = session.state
        steps: dict[str, dict[str, Any]] = await self.store.run_read(
            lambda: queries.steps_by_node(run_id)
        )
        ready = set()
        if run.status in RUNNING:
            ready = set(scheduler.ready_nodes(graph, progress, set()))
        ready |= (live_running or set()) - set(progress.nodes)
        nodes = []
        for node in graph.flow.nodes:
            node_steps = steps.get(node.id)
            status = progress.nodes.get(node.id)
            if status is None:
                if node.id in ready and run.status in RUNNING:
                    status = "running"
                elif run.status == "cancelled":
                    status = "cancelled"
                else:
                    status = "pending"
            item: dict[str, Any] = {
                "id": node.id,
                "type": node.type,
                "label": getattr(node, "label", None) or node.id,
                "status": status,
                "steps": node_steps["steps"] if node_steps else 0,
            }
            agent = node.config.get("agent")
            if node.type == "agent" and isinstance(agent, str):
                item["agent"] = _agent_name(agent, state)
            if node.type == "collaboration_turn":
                item["agents"] = node.config.get("agents")
            if node_steps:
                item |= {"started_at": node_steps["started_at"], "ended_at": node_steps["ended_at"]}
                if node_steps["error"]:
                    item["error"] = node_steps["error"]
            if node.id in progress.errors:
                item["error"] = progress.errors[node.id]
            nodes.append(item)
        edges = []
        for index, edge in enumerate(graph.flow.edges):
            entry: dict[str, Any] = {"source": edge.source, "target": edge.target}
            if edge.loop:
                fired = progress.loops.get(str(index), 0)
                entry |= {"loop": True, "max_iterations": edge.max_iterations, "fired": fired}
                entry["status"] = "fired" if fired else "pending"
            else:
                entry["status"] = EDGE_STATUS[progress.edges[index]]
            if edge.condition is not None:
                entry["condition"] = edge.condition.model_dump()
            edges.append(entry)
        return {
            "workflow_id": run.id,
            "run_id": run.id,
            "session_id": run.session_id,
            "flow": view.flow_name,
            "workflow_type": (view.workflow or {}).get("type"),
            "status": run.status,
            "nodes": nodes,
            "edges": edges,
        }


def _agent_name(source: str, state: dict[str, Any]) -> str | None:
    if "{{" not in source:
        return source
    if not renders_inline(source):
        # A drawing is read often and on the event loop: a template that needs a render
        # process (a loop, a call) is not run for it; the agent shows once the node ran.
        return None
    try:
        name = render(source, state).strip()
    except Exception:  # a template over keys not set yet: the agent is not known yet
        return None
    return name or None


def workflow_json(view: WorkflowView) -> dict[str, Any]:
    """What GET /workflows/{run_id} answers."""
    run, workflow = view.run, view.workflow or {}
    return {
        "workflow_id": run.id,
        "run_id": run.id,
        "session_id": run.session_id,
        "flow": view.flow_name,
        "workflow_type": workflow.get("type"),
        "participating_agents": workflow.get("participating_agents"),
        "conversation_id": workflow.get("conversation_id"),
        "status": run.status,
        "output": run.output,
        "error": run.error,
        "steps": run.steps_count,
        "created_at": run.created_at,
        "ended_at": run.ended_at,
    }
