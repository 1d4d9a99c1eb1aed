"""The editor protocol over the WebSocket (docs/api.md, "Executing a graph from an editor").

`execution.start` starts a run of a stored flow (`flow` by name, `flow_id` by version id) or
of an inline graph (`nodes`, `edges`, `viewport`, saved as a new version of the flow it
names), or another run of a session, with a model for the run (`provider_id`/`model`) and a
partial re-execution (`trigger_node_id`, `cached_outputs`, `from_run_id`) honoured as
`POST /sessions/{id}/runs` honours them. The socket then follows the run: its events are
relayed as `execution.*` messages (`execution_message`) until it ends.

The engine writes what the messages carry (`node.pending` for every node at the start,
`node.completed` with the node's output, `run.succeeded` with every node's output), so an
SSE client reading `GET /events?run_id=` sees the same run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podium.api.deps import Services
from podium.errors import InvalidInput
from podium.events import names
from podium.events.envelope import Event
from podium.llm.providers import preset_default_model, resolve_model
from podium.storage.records import FlowRecord

# Every key `execution.start` takes; any other is refused by name (a typo must not be
# silently ignored: that is how `trigger_node_id` went unnoticed before).
START_KEYS = frozenset(
    {
        "app_id",
        "flow",
        "flow_id",
        "name",
        "nodes",
        "edges",
        "viewport",
        "session_id",
        "input",
        "metadata",
        "multitask_strategy",
        "provider_id",
        "model",
        "trigger_node_id",
        "cached_outputs",
        "from_run_id",
        "include_outputs",
        "subscribe",
    }
)
STRATEGIES = ("enqueue", "reject", "interrupt")

# The events that end a relay (the run will not go on by itself).
RUN_ENDS = {
    names.RUN_SUCCEEDED: "execution.completed",
    names.RUN_FAILED: "execution.failed",
    names.RUN_CANCELLED: "execution.cancelled",
}
NODE_STATUSES = {
    names.NODE_PENDING: "pending",
    names.NODE_STARTED: "running",
    names.NODE_SKIPPED: "skipped",
    names.NODE_INTERRUPTED: "interrupted",
}
RUN_STATUSES = {
    names.RUN_QUEUED: "queued",
    names.RUN_STARTED: "running",
    names.RUN_INTERRUPTED: "interrupted",
    names.RUN_PAUSED: "paused",
}


@dataclass(slots=True)
class StartRequest:
    """`execution.start`'s data, checked."""

    app_id: str
    run_input: dict[str, Any]
    metadata: dict[str, Any] | None
    strategy: str
    session_id: str | None = None
    flow: str | dict[str, Any] | None = None
    flow_id: str | None = None
    name: str | None = None
    graph: dict[str, Any] | None = None  # nodes, edges and viewport of an inline graph
    provider_id: str | None = None
    model: str | None = None
    trigger_node_id: str | None = None
    cached_outputs: dict[str, dict[str, Any]] | None = None
    from_run_id: str | None = None
    include_outputs: bool = False
    subscribe: bool = True


def parse_start(data: dict[str, Any]) -> StartRequest:
    """Check `execution.start`'s fields; InvalidInput names the first problem."""
    unknown = sorted(set(data) - START_KEYS)
    if unknown:
        raise InvalidInput(
            f"execution.start does not take {', '.join(unknown)}; it takes "
            f"{', '.join(sorted(START_KEYS))}",
            details={"unknown": unknown},
        )
    run_input = data.get("input") or {}
    if not isinstance(run_input, dict):
        raise InvalidInput('input is a JSON object, e.g. {"name": "Ada"}')
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidInput("metadata is a JSON object")
    strategy = _string(data, "multitask_strategy") or "enqueue"
    if strategy not in STRATEGIES:
        raise InvalidInput(f"multitask_strategy is one of {', '.join(STRATEGIES)}")
    request = StartRequest(
        app_id=_string(data, "app_id") or "",
        run_input=run_input,
        metadata=metadata,
        strategy=strategy,
        session_id=_string(data, "session_id"),
        flow_id=_string(data, "flow_id"),
        name=_string(data, "name"),
        provider_id=_string(data, "provider_id"),
        model=_string(data, "model"),
        trigger_node_id=_string(data, "trigger_node_id"),
        from_run_id=_string(data, "from_run_id"),
        include_outputs=_flag(data, "include_outputs", False),
        subscribe=_flag(data, "subscribe", True),
    )
    flow = data.get("flow")
    if flow is not None and (not isinstance(flow, str | dict) or not flow):
        raise InvalidInput("flow is a registered flow's name or a flow definition")
    request.flow = flow
    if "nodes" in data:
        nodes, edges = data["nodes"], data.get("edges", [])
        if not isinstance(nodes, list) or not isinstance(edges, list):
            raise InvalidInput("nodes and edges are lists (an inline graph, as an editor saves)")
        request.graph = {"nodes": nodes, "edges": edges}
        if "viewport" in data:
            if not isinstance(data["viewport"], dict):
                raise InvalidInput("viewport is a JSON object, e.g. {x, y, zoom}")
            request.graph["viewport"] = data["viewport"]
    elif "edges" in data or "viewport" in data:
        raise InvalidInput("edges and viewport come with nodes (an inline graph)")
    cached = data.get("cached_outputs")
    if cached is not None:
        if not isinstance(cached, dict) or not all(isinstance(v, dict) for v in cached.values()):
            raise InvalidInput(
                'cached_outputs maps node ids to their outputs, e.g. {"enhance": {"text": "…"}}'
            )
        request.cached_outputs = cached
    sources = [
        key
        for key, given in (
            ("session_id", request.session_id),
            ("flow", flow),
            ("flow_id", request.flow_id),
            ("nodes", request.graph),
        )
        if given
    ]
    if not sources:
        raise InvalidInput(
            "execution.start needs what to run: flow (a name), flow_id, an inline graph "
            "(nodes and edges, with name or flow_id) or session_id"
        )
    if sources not in (["flow_id", "nodes"], sources[:1]):
        raise InvalidInput(
            f"execution.start takes one of flow, flow_id, nodes or session_id, not "
            f"{' and '.join(sources)} (flow_id with nodes saves the graph as a new version of "
            "that flow)"
        )
    if request.graph is not None and request.flow_id is None and request.name is None:
        raise InvalidInput("an inline graph needs a name (or the flow_id of the flow it edits)")
    if request.name is not None and request.graph is None:
        raise InvalidInput("name names an inline graph (nodes and edges)")
    if request.from_run_id and not request.session_id:
        raise InvalidInput("from_run_id is a run of the session: it comes with session_id")
    if request.session_id and request.metadata is not None:
        raise InvalidInput("metadata is for a new session; an existing session keeps its own")
    return request


async def flow_record(services: Services, request: StartRequest) -> FlowRecord:
    """The stored flow version the new session runs (an inline graph is registered first)."""
    sessions = services.sessions
    app_id = request.app_id
    if request.graph is not None:
        if request.flow_id is not None:
            base = await sessions.flow_of_app(app_id, request.flow_id)
            definition = {**base.definition, **request.graph}
        else:
            definition = {"name": request.name, **request.graph}
        return await sessions.register_flow(app_id, definition)
    if request.flow_id is not None:
        return await sessions.flow_of_app(app_id, request.flow_id)
    if isinstance(request.flow, dict):
        return await sessions.register_flow(app_id, request.flow)
    assert isinstance(request.flow, str)
    return await sessions.find_flow(app_id, request.flow)


def check_rerun(request: StartRequest, record: FlowRecord) -> None:
    """A re-execution names nodes of the flow it runs (else the run would fail later)."""
    node_ids = [node.get("id") for node in record.definition.get("nodes", [])]
    trigger, cached = request.trigger_node_id, request.cached_outputs or {}
    if trigger is None:
        if cached or request.from_run_id:
            raise InvalidInput("cached_outputs and from_run_id need a trigger_node_id")
        return
    if trigger not in node_ids:
        raise InvalidInput(
            f"trigger_node_id {trigger!r} is not a node of flow {record.name!r}; its nodes are "
            f"{', '.join(map(str, node_ids))}"
        )
    strangers = sorted(set(cached) - set(node_ids))
    if strangers:
        raise InvalidInput(
            f"cached_outputs names {', '.join(strangers)}, not nodes of flow {record.name!r}"
        )


async def run_model(services: Services, request: StartRequest) -> str | None:
    """The run's model reference from `provider_id` and `model`, checked against the app's
    providers (None: the flow's own resolution chain)."""
    provider, model = request.provider_id, request.model
    if provider is None and model is None:
        return None
    if provider is None:
        ref = model
    elif model is None:
        default = preset_default_model(provider)
        if default is None:
            raise InvalidInput(f"provider_id {provider!r} needs a model too, e.g. model: 'name'")
        ref = f"{provider}/{default}"
    else:
        ref = model if model.startswith(f"{provider}/") else f"{provider}/{model}"
    assert ref is not None
    configs = await services.agents.runtime.provider_configs(request.app_id)
    resolve_model(ref, configs, services.settings)  # ModelNotConfigured names what is wrong
    return ref


def run_options(request: StartRequest, model: str | None) -> dict[str, Any]:
    options: dict[str, Any] = {"pending_statuses": True}
    if request.include_outputs:
        options["include_outputs"] = True
    if model is not None:
        options["model"] = model
    return options


def execution_message(event: Event) -> tuple[str, dict[str, Any]]:
    """The `execution.*` message that relays one event of the run."""
    data = event.data
    base: dict[str, Any] = {"run_id": event.run_id, "seq": event.seq}
    status = NODE_STATUSES.get(event.type)
    if status is not None:
        return "execution.node.status", {**base, **data, "status": status}
    if event.type == names.NODE_COMPLETED:
        return "execution.node.completed", {**base, **data}
    if event.type == names.NODE_FAILED:
        return "execution.node.failed", {**base, **data}
    ended = RUN_ENDS.get(event.type)
    if ended is not None:
        return ended, {**base, **data}
    run_status = RUN_STATUSES.get(event.type)
    if run_status is not None:
        return "execution.status", {**base, **data, "status": run_status}
    return "execution.event", {**base, "event": event.to_json()}


def _string(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{key} is a non-empty string")
    return value


def _flag(data: dict[str, Any], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"{key} is true or false")
    return value
