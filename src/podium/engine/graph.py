"""A validated flow compiled for scheduling: adjacency, loop bodies, topological order.

`compile_flow` checks everything pydantic cannot and reports one clear message per problem.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podium.engine.caps import Caps, check_flow_caps
from podium.engine.conditions import check_rule
from podium.engine.flow import Edge, Flow, Node
from podium.engine.node_types import NodeType, config_problems, get_node_type, node_type_names
from podium.engine.reducers import REDUCERS
from podium.errors import FlowInvalid

if TYPE_CHECKING:
    from podium.engine.registry import Registry


@dataclass(slots=True)
class Loop:
    edge: int
    source: str
    target: str
    max_iterations: int
    body: frozenset[str]

    @property
    def label(self) -> str:
        return f"{self.source} → {self.target}"


@dataclass(slots=True)
class Graph:
    flow: Flow
    edges: list[Edge]
    incoming: dict[str, list[int]]  # non-loop edges into each node
    outgoing: dict[str, list[int]]  # non-loop edges out of each node
    loops_from: dict[str, list[Loop]]  # loop edges out of each node
    loops: dict[int, Loop]
    order: list[str]  # topological order of the non-loop graph
    nodes: dict[str, Node] = field(default_factory=dict)
    base_path: Path | None = None
    rank: dict[str, int] = field(default_factory=dict)  # each node's place in `order`
    _descendants: dict[str, frozenset[str]] = field(default_factory=dict)
    _configs: dict[str, Any] = field(default_factory=dict)
    # Each node's type, resolved once when the flow is compiled.
    node_types: dict[str, NodeType] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rank = {node_id: index for index, node_id in enumerate(self.order)}

    def config(self, node_id: str, node_type: NodeType) -> Any:
        """The node's parsed config, parsed once per compiled flow."""
        config = self._configs.get(node_id)
        if config is None:
            config = self._configs[node_id] = node_type.parse_config(self.nodes[node_id].config)
        return config

    def descendants(self, node_id: str) -> frozenset[str]:
        """Every node reachable from `node_id` over non-loop edges (not itself)."""
        if node_id not in self._descendants:
            seen: set[str] = set()
            stack = [node_id]
            while stack:
                for index in self.outgoing[stack.pop()]:
                    target = self.edges[index].target
                    if target not in seen:
                        seen.add(target)
                        stack.append(target)
            self._descendants[node_id] = frozenset(seen)
        return self._descendants[node_id]


def compile_flow(
    flow: Flow,
    base_path: Path | None = None,
    *,
    caps: Caps | None = None,
    registry: Registry | None = None,
) -> Graph:
    """Validate `flow` and compile it; raises FlowInvalid listing every problem, and
    LimitTooHigh when `caps` are given and the flow asks for more (a flow being registered;
    a stored one is compiled without them and runs within the caps). Node types are looked
    up in `registry` (the engine's own types when none is given)."""
    if caps is not None:
        check_flow_caps(flow, caps, registry)
    problems: list[str] = []
    ids = [node.id for node in flow.nodes]
    node_ids = set(ids)
    for node_id in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"node id {node_id!r} is used more than once")

    known_types = node_type_names(registry)
    node_types: dict[str, NodeType] = {}
    for node in flow.nodes:
        node_type = get_node_type(node.type, registry)
        if node_type is None:
            problems.append(
                f"node {node.id!r} has unknown type {node.type!r} "
                f"(known types: {', '.join(known_types)})"
            )
            continue
        node_types[node.id] = node_type
        errors = config_problems(node_type, node)
        problems.extend(errors)
        if not errors:
            problems.extend(node_type.check(node, flow, base_path))

    for key, reducer in flow.state.reducers.items():
        if reducer not in REDUCERS:
            problems.append(
                f"state key {key!r} has unknown reducer {reducer!r} "
                f"(use one of {', '.join(REDUCERS)})"
            )

    seen_edges: set[tuple[str, str]] = set()
    incoming: dict[str, list[int]] = {node_id: [] for node_id in node_ids}
    outgoing: dict[str, list[int]] = {node_id: [] for node_id in node_ids}
    loop_edges: list[int] = []
    for index, edge in enumerate(flow.edges):
        dangling = [end for end in (edge.source, edge.target) if end not in node_ids]
        for end in dangling:
            problems.append(f"edge {edge.label} points to unknown node {end!r}")
        if (edge.source, edge.target) in seen_edges:
            problems.append(f"edge {edge.label} is declared more than once")
        seen_edges.add((edge.source, edge.target))
        if edge.condition is not None:
            problem = check_rule(edge.condition.field, edge.condition.operator)
            if problem:
                problems.append(f"edge {edge.label} condition: {problem}")
        if edge.loop and edge.max_iterations is None:
            problems.append(f"loop edge {edge.label} needs max_iterations")
        if not edge.loop and edge.max_iterations is not None:
            problems.append(
                f"edge {edge.label} has max_iterations but is not a loop edge; add loop: true"
            )
        if dangling:
            continue
        if edge.loop:
            loop_edges.append(index)
        else:
            outgoing[edge.source].append(index)
            incoming[edge.target].append(index)

    order: list[str] = []  # cycles are reported together with every other problem
    sorter = graphlib.TopologicalSorter(
        {n: [flow.edges[i].source for i in incoming[n]] for n in dict.fromkeys(ids)}
    )
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = list(exc.args[1])
        back = f"{cycle[-2]} → {cycle[-1]}"
        problems.append(
            f"flow {flow.name!r} has a cycle {' → '.join(cycle)}; mark the edge {back} "
            "with loop: true and max_iterations"
        )
    if not any(not incoming[n] for n in ids):
        problems.append(f"flow {flow.name!r} has no entry node (a node with no incoming edge)")

    graph = Graph(
        flow=flow,
        edges=flow.edges,
        incoming=incoming,
        outgoing=outgoing,
        loops_from={node_id: [] for node_id in node_ids},
        loops={},
        order=order,
        nodes={node.id: node for node in flow.nodes},
        base_path=base_path,
        node_types=node_types,
    )
    if order:
        for index in loop_edges:
            if flow.edges[index].max_iterations is not None:
                problems.extend(_add_loop(graph, index))
    if problems:
        raise FlowInvalid(flow.name, problems)
    return graph


def _add_loop(graph: Graph, index: int) -> list[str]:
    edge = graph.edges[index]
    source, target = edge.source, edge.target
    if source != target and source not in graph.descendants(target):
        return [
            f"loop edge {edge.label} must go back to an earlier node: "
            f"{target!r} does not lead to {source!r}"
        ]
    ancestors_of_source = {n for n in graph.order if source in graph.descendants(n)}
    body = frozenset({source, target} | (graph.descendants(target) & ancestors_of_source))
    problems = []
    for node_id in sorted(body - {source}):
        for out in graph.outgoing[node_id]:
            exit_target = graph.edges[out].target
            if exit_target not in body:
                problems.append(
                    f"edge {node_id} → {exit_target} leaves the loop {edge.label} from "
                    f"{node_id!r}; a loop body may only be left from {source!r}"
                )
    assert edge.max_iterations is not None
    loop = Loop(index, source, target, edge.max_iterations, body)
    graph.loops[index] = loop
    graph.loops_from[source].append(loop)
    return problems
