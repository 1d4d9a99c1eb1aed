"""Gates and journeys: which flows a user must have completed before a flow may start.

A pack ships a workflow graph (`workflow_graph.json`, the same JSON as the API's
`PUT /workflow-graphs/{name}`):

    {"name": "appbuilder_pack",
     "gates": [{"flow": "MarketingAutomation", "requires": ["AppBuilder"],
                "message": "Build your app first"}],
     "journeys": [{"name": "launch", "flows": ["AppBuilder", "RevenueDashboard"]}]}

A gate says its flow may start for a user only when that user has a `completed` session of
every flow in `requires`, in the same app. A journey is an ordered sequence of flows; unless
it says `"gated": false`, each of its flows requires the one before it. An app may hold
several graphs (one per pack); a flow's requirements are the union of all of them. See
docs/gates.md.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from podium.errors import InvalidInput, PrerequisiteNotMet, WorkflowGraphInvalid
from podium.storage import workflow_graphs as storage
from podium.storage.script import Script
from podium.storage.store import Store
from podium.storage.workflow_graphs import WorkflowGraphRecord

GRAPH_FILE = "workflow_graph.json"
GRAPH_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"

FlowName = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Gate(_Strict):
    """`flow` may start for a user once they have completed every flow of `requires`."""

    flow: FlowName
    requires: list[FlowName] = Field(min_length=1, max_length=50)
    message: str | None = Field(default=None, min_length=1, max_length=500)


class Journey(_Strict):
    """An ordered sequence of flows; `gated` (the default): each requires the one before."""

    name: str = Field(min_length=1, max_length=100)
    flows: list[FlowName] = Field(min_length=2, max_length=50)
    gated: bool = True


class WorkflowGraph(_Strict):
    name: str = Field(pattern=GRAPH_NAME_PATTERN)
    description: str | None = Field(default=None, max_length=2000)
    gates: list[Gate] = Field(default_factory=list, max_length=500)
    journeys: list[Journey] = Field(default_factory=list, max_length=100)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


_KEYS = {
    (): "a workflow graph has name, description, gates and journeys",
    ("gates",): "a gate has flow, requires and message",
    ("journeys",): "a journey has name, flows and gated",
}


# --- validation -------------------------------------------------------------------------


def parse_workflow_graph(data: Any, *, name: str | None = None) -> WorkflowGraph:
    """A validated graph from decoded JSON; `name` (the API path's, or a pack's) is used when
    the graph names none and must match when it does.

    Raises:
        WorkflowGraphInvalid: with one problem per mistake (unknown keys, a gate requiring
            its own flow, a journey naming a flow twice, a cycle among the requirements, …).
    """
    if not isinstance(data, dict):
        raise InvalidInput("a workflow graph is a JSON object with name, gates and journeys")
    label = str(name or data.get("name") or "unnamed")
    if name is not None:
        given = data.get("name", name)
        if given != name:
            raise WorkflowGraphInvalid(
                name, [f"name: the graph says {given!r} but is registered as {name!r}"]
            )
        data = {**data, "name": name}
    try:
        graph = WorkflowGraph.model_validate(data)
    except ValidationError as exc:
        raise WorkflowGraphInvalid(label, _pydantic_problems(exc)) from None
    problems = _structure_problems(graph)
    if problems:
        raise WorkflowGraphInvalid(graph.name, problems)
    return graph


def _where(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _pydantic_problems(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        where = _where(loc) or "workflow graph"
        if error["type"] == "extra_forbidden":
            kind = tuple(part for part in loc[:-1] if isinstance(part, str))
            problems.append(f"{where}: unknown key; {_KEYS.get(kind, 'remove it')}")
        elif error["type"] == "missing":
            problems.append(f"{where}: missing")
        elif error["type"] in ("too_short", "too_long"):
            context = error.get("ctx", {})
            bound = "at least" if error["type"] == "too_short" else "at most"
            limit = context.get("min_length", context.get("max_length"))
            count = context.get("actual_length")
            items = "item" if limit == 1 else "items"
            problems.append(f"{where}: {bound} {limit} {items}, not {count}")
        elif error["type"] == "string_pattern_mismatch":
            problems.append(
                f"{where}: letters, digits, '_', '.' and '-', starting with a letter or digit "
                "(at most 100)"
            )
        else:
            problems.append(f"{where}: {error['msg']}")
    return problems


def _structure_problems(graph: WorkflowGraph) -> list[str]:
    problems = []
    gate_of: dict[str, int] = {}
    for i, gate in enumerate(graph.gates):
        if gate.flow in gate.requires:
            problems.append(
                f"gates[{i}]: flow {gate.flow!r} requires itself; remove it from requires"
            )
        for twice in _repeated(gate.requires):
            problems.append(f"gates[{i}].requires names {twice!r} twice")
        if gate.flow in gate_of:
            problems.append(
                f"gates[{i}]: a second gate for flow {gate.flow!r} (the first is "
                f"gates[{gate_of[gate.flow]}]); list all its requirements in one gate"
            )
        gate_of.setdefault(gate.flow, i)
    journey_names: set[str] = set()
    for i, journey in enumerate(graph.journeys):
        if journey.name in journey_names:
            problems.append(f"journeys[{i}]: a second journey named {journey.name!r}")
        journey_names.add(journey.name)
        for twice in _repeated(journey.flows):
            problems.append(
                f"journeys[{i}] {journey.name!r} names flow {twice!r} twice; a journey "
                "passes through each flow once"
            )
    if not problems:
        cycle = find_cycle([graph])
        if cycle:
            problems.append(cycle)
    return problems


def _repeated(names: list[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for name in names:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return repeated


@dataclass(frozen=True, slots=True)
class Requirement:
    """One reason `flow` waits: a gate, or its place in a gated journey."""

    flow: str
    requires: list[str]
    message: str | None
    origin: str  # where it is declared, for messages: "gates[0]", "journey 'launch'"


def requirements(graphs: list[WorkflowGraph]) -> list[Requirement]:
    """Every requirement the graphs declare, gates first, in their order."""
    several = len(graphs) > 1
    found: list[Requirement] = []
    for graph in graphs:
        prefix = f"graph {graph.name!r} " if several else ""
        for i, gate in enumerate(graph.gates):
            found.append(Requirement(gate.flow, gate.requires, gate.message, f"{prefix}gates[{i}]"))
        for journey in graph.journeys:
            if journey.gated:
                for before, flow in pairwise(journey.flows):
                    origin = f"{prefix}journey {journey.name!r}"
                    found.append(Requirement(flow, [before], None, origin))
    return found


def find_cycle(graphs: list[WorkflowGraph]) -> str | None:
    """A message naming a cycle among the graphs' requirements (no flow of it could ever
    start), or None."""
    edges: dict[str, dict[str, str]] = {}
    for requirement in requirements(graphs):
        for required in requirement.requires:
            edges.setdefault(requirement.flow, {}).setdefault(required, requirement.origin)
    try:
        TopologicalSorter({flow: list(required) for flow, required in edges.items()}).prepare()
    except CycleError as exc:
        # graphlib lists the cycle so that each node is required by the one after it.
        cycle = list(reversed(exc.args[1]))
        steps = [
            f"{flow!r} requires {required!r} ({edges[flow][required]})"
            for flow, required in pairwise(cycle)
        ]
        return (
            "the requirements form a cycle, so none of its flows could ever start: "
            + ", ".join(steps)
            + "; remove one of them"
        )
    return None


# --- files ------------------------------------------------------------------------------


def read_workflow_graph(path: Path | str) -> WorkflowGraph:
    """Read and validate a pack's graph: `path` is the pack's directory (its
    `workflow_graph.json`) or the file itself. A graph without a name takes the directory's.
    """
    path = Path(path)
    file = path / GRAPH_FILE if path.is_dir() else path
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"workflow graph file {str(file)!r} does not exist") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read workflow graph {str(file)!r}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{file}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if isinstance(data, dict) and "name" not in data:
        data = {**data, "name": file.resolve().parent.name}
    return parse_workflow_graph(data)


async def load_workflow_graph(store: Store, app_id: str, path: Path | str) -> WorkflowGraphRecord:
    """Register a pack's `workflow_graph.json` (a directory or the file) in an app, replacing
    the app's graph of the same name."""
    graph = read_workflow_graph(path)
    return await Gates(store).put_graph(app_id, graph.name, graph.to_json())


# --- checks -----------------------------------------------------------------------------


def please_complete(flows: list[str]) -> str:
    """The message that names the missing flows: 'Please complete A, B and C first'."""
    names = flows[0] if len(flows) == 1 else ", ".join(flows[:-1]) + " and " + flows[-1]
    return f"Please complete {names} first"


@dataclass(slots=True)
class JourneyPlace:
    """Where a flow stands in one journey, for the user asked about."""

    graph: str
    name: str
    flows: list[str]
    gated: bool
    position: int  # the flow's index in `flows` (0: the first)
    completed: list[str]  # the journey's flows the user has completed


@dataclass(slots=True)
class Prerequisites:
    """What a flow requires and what the user still has to complete."""

    flow: str
    ok: bool
    message: str  # "" when ok
    requires: list[str]
    missing: list[str]
    journeys: list[JourneyPlace]


def explain(
    graphs: list[WorkflowGraph], flow: str, user_id: str | None, completed: set[str]
) -> Prerequisites:
    """The prerequisites of `flow` given the flows the user has completed (pure)."""
    own = [r for r in requirements(graphs) if r.flow == flow]
    requires = list(dict.fromkeys(name for r in own for name in r.requires))
    missing = [name for name in requires if name not in completed]
    message = ""
    if missing:
        # A gate's own message is shown when that gate alone names every missing flow (a
        # journey that repeats the gate's requirement does not hide it).
        custom = next(
            (r.message for r in own if r.message and set(missing) <= set(r.requires)), None
        )
        message = custom or please_complete(missing)
        if user_id is None:
            message += " (a gated flow needs a user: pass user_id)"
    places = [
        JourneyPlace(
            graph.name,
            journey.name,
            journey.flows,
            journey.gated,
            journey.flows.index(flow),
            [name for name in journey.flows if name in completed],
        )
        for graph in graphs
        for journey in graph.journeys
        if flow in journey.flows
    ]
    return Prerequisites(flow, not missing, message, requires, missing, places)


def _stored(records: list[WorkflowGraphRecord]) -> list[WorkflowGraph]:
    return [WorkflowGraph.model_validate(record.graph, strict=False) for record in records]


def _prerequisites_read(app_id: str, user_id: str | None, flow: str) -> Script:
    """One read: the app's graphs, then (only when the flow is in one) which of the flows
    they name the user has completed."""
    records: list[WorkflowGraphRecord] = yield from storage.list_graphs(app_id)
    graphs = _stored(records)
    names = {
        name
        for graph in graphs
        for name in (
            *(n for gate in graph.gates if gate.flow == flow for n in gate.requires),
            *(n for journey in graph.journeys if flow in journey.flows for n in journey.flows),
        )
    }
    completed: set[str] = set()
    if names and user_id is not None:
        completed = yield from storage.completed_flows(app_id, user_id, sorted(names))
    return explain(graphs, flow, user_id, completed)


class Gates:
    """An app's workflow graphs, and the checks of its gates."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def put_graph(self, app_id: str, name: str, definition: Any) -> WorkflowGraphRecord:
        """Validate and store (create or replace) the app's graph `name`; refused when its
        requirements and those of the app's other graphs would form a cycle."""
        graph = parse_workflow_graph(definition, name=name)
        others = [g for g in _stored(await self.list_graphs(app_id)) if g.name != name]
        if others:
            cycle = find_cycle([graph, *others])
            if cycle:
                raise WorkflowGraphInvalid(name, [f"with the app's other graphs, {cycle}"])
        record: WorkflowGraphRecord = await self.store.run_script(
            lambda: storage.put_graph(app_id, name, graph.to_json(), time.time())
        )
        return record

    async def get_graph(self, app_id: str, name: str) -> WorkflowGraphRecord:
        record: WorkflowGraphRecord = await self.store.run_read(
            lambda: storage.get_graph(app_id, name)
        )
        return record

    async def list_graphs(self, app_id: str) -> list[WorkflowGraphRecord]:
        records: list[WorkflowGraphRecord] = await self.store.run_read(
            lambda: storage.list_graphs(app_id)
        )
        return records

    async def delete_graph(self, app_id: str, name: str) -> None:
        await self.store.run_script(lambda: storage.delete_graph(app_id, name))

    async def prerequisites(self, app_id: str, user_id: str | None, flow: str) -> Prerequisites:
        """What `flow` requires in the app and what `user_id` has still to complete."""
        found: Prerequisites = await self.store.run_read(
            lambda: _prerequisites_read(app_id, user_id, flow)
        )
        return found

    async def missing(self, app_id: str, user_id: str | None, flow: str) -> list[str]:
        """The flows `user_id` must still complete before `flow` may start (none: it may)."""
        return (await self.prerequisites(app_id, user_id, flow)).missing

    async def validate_prerequisites(
        self, app_id: str, user_id: str | None, flow: str
    ) -> tuple[bool, str]:
        """`(True, "")` when `flow` may start for the user, else `(False, "Please complete
        AppBuilder first")`."""
        found = await self.prerequisites(app_id, user_id, flow)
        return found.ok, found.message

    async def check(self, app_id: str, user_id: str | None, flow: str) -> None:
        """Raises:
        PrerequisiteNotMet: when `flow` may not start yet for the user (409)."""
        found = await self.prerequisites(app_id, user_id, flow)
        if not found.ok:
            raise PrerequisiteNotMet(found.message, found.missing)
