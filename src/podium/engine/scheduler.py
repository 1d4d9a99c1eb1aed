"""Pure scheduling decisions (DESIGN §3): which nodes are ready, what an outcome changes.

No I/O here. `Progress` is the run's graph position, stored as JSON on the run row and
updated in the same transaction as each step's end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from podium.engine.conditions import evaluate
from podium.engine.graph import Graph

PENDING, FIRED, DEAD = "p", "f", "d"
SUCCEEDED, FAILED, SKIPPED, WAITING = "succeeded", "failed", "skipped", "waiting"
_CODES = {SUCCEEDED: "s", FAILED: "f", SKIPPED: "k", WAITING: "w"}
_STATUSES = {code: status for status, code in _CODES.items()}


@dataclass(slots=True)
class Progress:
    """Edge states, resolved nodes, iterations and loop counts of one run."""

    edges: list[str]
    nodes: dict[str, str] = field(default_factory=dict)
    iterations: dict[str, int] = field(default_factory=dict)
    loops: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    output: dict[str, Any] | None = None  # what output nodes selected, the run's result

    @classmethod
    def start(cls, graph: Graph) -> Progress:
        return cls(edges=[PENDING] * len(graph.edges))

    def to_json(self) -> dict[str, Any]:
        """Compact JSON (it is rewritten with every step): one letter per node status, and
        empty parts left out."""
        data: dict[str, Any] = {"e": "".join(self.edges)}
        if self.nodes:
            data["n"] = {node: _CODES[status] for node, status in self.nodes.items()}
        if self.iterations:
            data["i"] = self.iterations
        if self.loops:
            data["l"] = self.loops
        if self.errors:
            data["x"] = self.errors
        if self.output is not None:
            data["o"] = self.output
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Progress:
        return cls(
            edges=list(data["e"]),
            nodes={node: _STATUSES[code] for node, code in data.get("n", {}).items()},
            iterations=dict(data.get("i", {})),
            loops=dict(data.get("l", {})),
            errors=dict(data.get("x", {})),
            output=data.get("o"),
        )

    def iteration(self, node_id: str) -> int:
        return self.iterations.get(node_id, 0)


@dataclass(slots=True)
class Change:
    """What one outcome changed, for events and for the caller's next decision."""

    skipped: list[str] = field(default_factory=list)
    loop_restarted: str | None = None  # the loop's label when its body starts again
    limit_error: str | None = None  # a loop fired more than max_iterations


def ready_nodes(graph: Graph, progress: Progress, running: set[str] | frozenset[str]) -> list[str]:
    """Nodes that may start now, in topological order (DESIGN §3.1, §3.6)."""
    ready = []
    for node_id in graph.order:
        if node_id in progress.nodes or node_id in running:
            continue
        incoming = graph.incoming[node_id]
        if not incoming:
            ready.append(node_id)
            continue
        states = [progress.edges[i] for i in incoming]
        if PENDING in states or FIRED not in states:
            continue
        if graph.nodes[node_id].join == "all" and DEAD in states:
            continue
        ready.append(node_id)
    return ready


def resume_waiting(progress: Progress) -> list[str]:
    """Make interrupted nodes runnable again (their step runs again with the answer)."""
    waiting = [node_id for node_id, status in progress.nodes.items() if status == WAITING]
    for node_id in waiting:
        del progress.nodes[node_id]
    return waiting


def node_succeeded(
    graph: Graph,
    progress: Progress,
    node_id: str,
    output: dict[str, Any],
    state: dict[str, Any],
    routes: list[str] | None = None,
) -> Change:
    """Record a success: fire a loop edge or resolve the outgoing edges (DESIGN §3.3, §3.7).

    `state` is the state after the output was merged; conditions see `{state, output}`.
    """
    progress.nodes[node_id] = SUCCEEDED
    data = {"state": state, "output": output}
    for loop in graph.loops_from[node_id]:
        condition = graph.edges[loop.edge].condition
        if condition is not None and not evaluate(
            condition.field, condition.operator, condition.value, data
        ):
            continue
        key = str(loop.edge)
        fired = progress.loops.get(key, 0) + 1
        if fired > loop.max_iterations:
            return Change(
                limit_error=f"loop {loop.label} exceeded max_iterations "
                f"{loop.max_iterations}; raise max_iterations or change its condition"
            )
        progress.loops[key] = fired
        _restart_body(graph, progress, loop.edge)
        return Change(loop_restarted=loop.label)

    for index in graph.outgoing[node_id]:
        edge = graph.edges[index]
        if routes is not None:
            fires = edge.target in routes
        elif edge.condition is not None:
            fires = evaluate(
                edge.condition.field, edge.condition.operator, edge.condition.value, data
            )
        else:
            fires = True
        progress.edges[index] = FIRED if fires else DEAD
    return Change(skipped=propagate_skips(graph, progress))


def node_failed(
    graph: Graph, progress: Progress, node_id: str, error: str, state: dict[str, Any]
) -> Change:
    """Record a failure (DESIGN §3.4): downstream is skipped unless `on_error: continue`."""
    node = graph.nodes[node_id]
    if node.on_error == "continue":
        # A failed router chose no route: its targets are skipped rather than all run.
        routes: list[str] | None = [] if node.type == "router" else None
        change = node_succeeded(graph, progress, node_id, {}, state, routes)
        if change.loop_restarted is None:  # a restarted loop body runs the node again
            progress.nodes[node_id] = FAILED
        return change
    progress.nodes[node_id] = FAILED
    progress.errors[node_id] = error
    for index in graph.outgoing[node_id]:
        progress.edges[index] = DEAD
    return Change(skipped=propagate_skips(graph, progress))


def node_waiting(progress: Progress, node_id: str) -> None:
    """The node asked a question; it runs again once the question is answered."""
    progress.nodes[node_id] = WAITING


def propagate_skips(graph: Graph, progress: Progress) -> list[str]:
    """Skip every unresolved node whose inputs are all dead (or, for join: all, any dead)."""
    skipped = []
    for node_id in graph.order:  # topological, so one pass reaches a fixed point
        incoming = graph.incoming[node_id]
        if node_id in progress.nodes or not incoming:
            continue
        states = [progress.edges[i] for i in incoming]
        if PENDING in states:
            continue
        join_all = graph.nodes[node_id].join == "all"
        if FIRED in states and not (join_all and DEAD in states):
            continue
        progress.nodes[node_id] = SKIPPED
        skipped.append(node_id)
        for index in graph.outgoing[node_id]:
            progress.edges[index] = DEAD
    return skipped


def run_outcome(graph: Graph, progress: Progress, running: set[str] | frozenset[str]) -> str | None:
    """`succeeded`, `failed` or `interrupted` once nothing can run; None while work remains."""
    if running or ready_nodes(graph, progress, running):
        return None
    if progress.errors:
        return "failed"
    if WAITING in progress.nodes.values():
        return "interrupted"
    return "succeeded"


def _restart_body(graph: Graph, progress: Progress, loop_edge: int) -> None:
    loop = graph.loops[loop_edge]
    for node_id in loop.body:
        progress.nodes.pop(node_id, None)
        progress.iterations[node_id] = progress.iteration(node_id) + 1
    for node_id in loop.body:
        for index in graph.outgoing[node_id]:
            progress.edges[index] = PENDING
    for inner, inner_loop in graph.loops.items():
        if inner != loop_edge and inner_loop.body <= loop.body:
            progress.loops.pop(str(inner), None)
