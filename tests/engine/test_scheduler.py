"""The pure scheduling decisions (DESIGN §3), driven step by step as the executor drives them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from podium.engine.flow import Flow
from podium.engine.graph import Graph, compile_flow
from podium.engine.reducers import merge_into_state
from podium.engine.scheduler import (
    DEAD,
    FAILED,
    FIRED,
    PENDING,
    SKIPPED,
    SUCCEEDED,
    WAITING,
    Progress,
    node_failed,
    node_succeeded,
    node_waiting,
    propagate_skips,
    ready_nodes,
    resume_waiting,
    run_outcome,
)

# --- building small graphs -----------------------------------------------------------------


def when(field: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


def edge(spec: str, **extra: Any) -> dict[str, Any]:
    source, target = spec.split(">")
    return {"source": source, "target": target, **extra}


def loop(spec: str, max_iterations: int, condition: dict[str, Any] | None = None) -> dict:
    return edge(spec, loop=True, max_iterations=max_iterations, condition=condition)


def build(*edges: str | dict[str, Any], nodes: str = "", **options: dict[str, Any]) -> Graph:
    """A graph of `output` nodes from "a>b" strings or edge dicts; options per node id."""
    edge_dicts = [edge(e) if isinstance(e, str) else e for e in edges]
    ids = list(nodes)
    for e in edge_dicts:
        ids += [n for n in (e["source"], e["target"]) if n not in ids]
    node_dicts = [{"id": n, "type": "output", **options.get(n, {})} for n in ids]
    flow = Flow.model_validate({"name": "f", "nodes": node_dicts, "edges": edge_dicts})
    return compile_flow(flow)


def edge_index(graph: Graph, spec: str) -> int:
    source, target = spec.split(">")
    for index, e in enumerate(graph.edges):
        if (e.source, e.target) == (source, target):
            return index
    raise KeyError(spec)


# --- simulating a run ----------------------------------------------------------------------

FAIL, WAIT = "fail", "wait"


@dataclass
class Route:
    targets: list[str]


Behaviour = dict[str, Any] | str | Route | Callable[[dict[str, Any], int], Any]


@dataclass
class Simulation:
    order: list[str]
    progress: Progress
    state: dict[str, Any]
    outcome: str | None
    limit_error: str | None = None


def simulate(
    graph: Graph,
    behaviour: dict[str, Behaviour] | None = None,
    progress: Progress | None = None,
    state: dict[str, Any] | None = None,
) -> Simulation:
    """Run ready nodes one at a time, as the executor would, until the run ends or waits.

    A node's behaviour is an output dict (default `{}`), FAIL, WAIT, a Route, or a callable
    `(state, iteration) -> behaviour`.
    """
    behaviour = behaviour or {}
    progress = progress or Progress.start(graph)
    state = dict(state or {})
    order: list[str] = []
    while (ready := ready_nodes(graph, progress, set())) and len(order) < 100:
        node_id = ready[0]
        order.append(node_id)
        action = behaviour.get(node_id, {})
        if callable(action):
            action = action(state, progress.iteration(node_id))
        if action == FAIL:
            change = node_failed(graph, progress, node_id, f"{node_id} exploded", state)
        elif action == WAIT:
            node_waiting(progress, node_id)
            continue
        else:
            routes = action.targets if isinstance(action, Route) else None
            output = {} if isinstance(action, Route) else action
            state = merge_into_state(state, output, {})
            change = node_succeeded(graph, progress, node_id, output, state, routes)
        if change.limit_error:
            return Simulation(order, progress, state, None, change.limit_error)
    return Simulation(order, progress, state, run_outcome(graph, progress, set()))


# --- readiness and skips (§3.1, §3.2, §3.6) ------------------------------------------------


def test_entry_nodes_are_ready_at_start_in_topological_order() -> None:
    graph = build("a>c", "b>c", "c>d", nodes="dcba")
    ready = ready_nodes(graph, Progress.start(graph), set())
    assert sorted(ready) == ["a", "b"]
    assert ready == [n for n in graph.order if n in ready]


def test_running_and_resolved_nodes_are_not_ready() -> None:
    graph = build("a>c", "b>c")
    progress = Progress.start(graph)
    assert ready_nodes(graph, progress, {"a"}) == ["b"]
    progress.nodes["b"] = SUCCEEDED
    assert ready_nodes(graph, progress, frozenset()) == ["a"]


@pytest.mark.parametrize(
    ("states", "join", "ready", "skipped"),
    [
        ((PENDING, PENDING), "any", False, False),
        ((FIRED, PENDING), "any", False, False),
        ((DEAD, PENDING), "any", False, False),
        ((FIRED, FIRED), "any", True, False),
        ((FIRED, DEAD), "any", True, False),
        ((DEAD, DEAD), "any", False, True),
        ((FIRED, PENDING), "all", False, False),
        ((FIRED, FIRED), "all", True, False),
        ((FIRED, DEAD), "all", False, True),
        ((DEAD, DEAD), "all", False, True),
    ],
)
def test_join_readiness_and_skip(
    states: tuple[str, str], join: str, ready: bool, skipped: bool
) -> None:
    graph = build("a>j", "b>j", "j>z", j={"join": join})
    progress = Progress.start(graph)
    progress.nodes |= {"a": SUCCEEDED, "b": SUCCEEDED}
    progress.edges[edge_index(graph, "a>j")], progress.edges[edge_index(graph, "b>j")] = states
    assert ("j" in ready_nodes(graph, progress, set())) is ready
    assert propagate_skips(graph, progress) == (["j", "z"] if skipped else [])
    if skipped:
        assert progress.nodes["j"] == progress.nodes["z"] == SKIPPED
        assert progress.edges[edge_index(graph, "j>z")] == DEAD


def test_skip_propagates_through_a_chain_but_not_into_a_join_that_still_waits() -> None:
    graph = build("a>b", "b>c", "c>j", "x>j")
    progress = Progress.start(graph)
    progress.nodes["a"] = FAILED
    progress.edges[edge_index(graph, "a>b")] = DEAD
    assert propagate_skips(graph, progress) == ["b", "c"]
    assert "j" not in progress.nodes  # x → j is still pending
    assert ready_nodes(graph, progress, set()) == ["x"]


# --- whole runs, table-driven ------------------------------------------------------------


def cond(spec: str, field: str, operator: str, value: Any = None) -> dict[str, Any]:
    return edge(spec, condition=when(field, operator, value))


SUCCESS, FAILURE, INTERRUPTED = "succeeded", "failed", "interrupted"
# name: (graph, behaviour, order of execution, final statuses, outcome)
# fmt: off
RUNS = {
    "chain": (build("a>b", "b>c"), {}, "abc", "aS bS cS", SUCCESS),
    "diamond": (build("a>b", "a>c", "b>d", "c>d"), {}, "abcd", "aS bS cS dS", SUCCESS),
    "condition true fires": (
        build(cond("a>b", "output.x", ">", 1), "b>c"), {"a": {"x": 2}}, "abc", "aS bS cS", SUCCESS
    ),
    "condition false kills, the skip propagates down the chain": (
        build(cond("a>b", "output.x", ">", 1), "b>c"), {"a": {"x": 1}}, "a", "aS bK cK", SUCCESS
    ),
    "condition sees the merged state": (
        build("a>b", cond("b>c", "state.x", "==", "by a")), {"a": {"x": "by a"}}, "abc",
        "aS bS cS", SUCCESS,
    ),
    "mismatched types compare false": (
        build(cond("a>b", "output.x", ">", 1), "a>c"), {"a": {"x": "2"}}, "ac", "aS bK cS",
        SUCCESS,
    ),
    "join runs when one branch fired and the other was skipped": (
        build("a>b", cond("a>c", "state.go", "exists"), "b>d", "c>d", "d>e"), {}, "abde",
        "aS bS cK dS eS", SUCCESS,
    ),
    "join all is skipped when a branch was skipped": (
        build("a>b", cond("a>c", "state.go", "exists"), "b>d", "c>d", "d>e", d={"join": "all"}),
        {}, "ab", "aS bS cK dK eK", SUCCESS,
    ),
    "router fires only the chosen target": (
        build("r>a", "r>b", "r>c", "a>j", "b>j", "c>j"), {"r": Route(["b"])}, "rbj",
        "aK bS cK jS rS", SUCCESS,
    ),
    "router with no route skips everything after it": (
        build("r>a", "r>b", "a>j", "b>j"), {"r": Route([])}, "r", "aK bK jK rS", SUCCESS
    ),
    "routes win over edge conditions": (
        build(cond("r>a", "state.no", "exists"), "r>b"), {"r": Route(["a"])}, "ra", "aS bK rS",
        SUCCESS,
    ),
    "failure skips downstream, the sibling branch goes on, the run fails": (
        build("a>b", "b>c", "a>d", "d>e"), {"b": FAIL}, "abde", "aS bF cK dS eS", FAILURE
    ),
    "failure before a join: the join still runs from the other branch": (
        build("a>b", "a>c", "b>j", "c>j"), {"b": FAIL}, "abcj", "aS bF cS jS", FAILURE
    ),
    "on_error continue lets downstream run and the run succeed": (
        build("a>b", "b>c", b={"on_error": "continue"}), {"b": FAIL}, "abc", "aS bF cS", SUCCESS
    ),
    "a waiting node interrupts the run, its downstream waits": (
        build("a>b", "b>c", "a>d"), {"b": WAIT}, "abd", "aS bW dS", INTERRUPTED
    ),
    "a failure wins over a wait": (
        build("a>b", "a>c"), {"b": WAIT, "c": FAIL}, "abc", "aS bW cF", FAILURE
    ),
}
# fmt: on
STATUS_LETTERS = {"S": SUCCEEDED, "F": FAILED, "K": SKIPPED, "W": WAITING}


def statuses(spec: str) -> dict[str, str]:
    """`"aS bK"` → `{"a": "succeeded", "b": "skipped"}`."""
    return {s[:-1]: STATUS_LETTERS[s[-1]] for s in spec.split()}


@pytest.mark.parametrize(
    ("graph", "behaviour", "order", "expected", "outcome"), RUNS.values(), ids=list(RUNS)
)
def test_run(
    graph: Graph, behaviour: dict[str, Behaviour], order: str, expected: str, outcome: str
) -> None:
    sim = simulate(graph, behaviour)
    assert "".join(sim.order) == order
    assert sim.progress.nodes == statuses(expected)
    assert sim.outcome == outcome


def test_failure_records_the_error_and_reports_skips() -> None:
    graph = build("a>b", "b>c", "c>d", "a>x", x={"on_error": "continue"})
    progress = Progress.start(graph)
    node_succeeded(graph, progress, "a", {}, {})
    change = node_failed(graph, progress, "b", "RuntimeError: b exploded", {})
    assert change.skipped == ["c", "d"]
    assert node_failed(graph, progress, "x", "ignored", {}).skipped == []  # on_error: continue
    assert progress.errors == {"b": "RuntimeError: b exploded"}
    assert progress.nodes == {"a": SUCCEEDED, "b": FAILED, "c": SKIPPED, "d": SKIPPED, "x": FAILED}
    assert progress.edges == [FIRED, DEAD, DEAD, FIRED]


def test_parallel_branches_have_no_barrier() -> None:
    graph = build("a>b", "a>c", "b>d", "c>e")
    progress = Progress.start(graph)
    assert run_outcome(graph, progress, set()) is None  # a is ready
    assert run_outcome(graph, progress, {"a"}) is None  # a is running
    node_succeeded(graph, progress, "a", {}, {})
    assert ready_nodes(graph, progress, set()) == ["b", "c"]
    node_succeeded(graph, progress, "b", {}, {})  # c is still running
    assert ready_nodes(graph, progress, {"c"}) == ["d"]
    assert run_outcome(graph, progress, {"c"}) is None


def test_a_failed_branch_does_not_stop_a_sibling_that_is_running() -> None:
    graph = build("a>b", "a>c", "c>d")
    progress = Progress.start(graph)
    node_succeeded(graph, progress, "a", {}, {})
    node_failed(graph, progress, "b", "boom", {})  # c is running meanwhile
    assert run_outcome(graph, progress, {"c"}) is None
    node_succeeded(graph, progress, "c", {}, {})
    assert ready_nodes(graph, progress, set()) == ["d"]
    assert run_outcome(graph, progress, set()) is None
    node_succeeded(graph, progress, "d", {}, {})
    assert run_outcome(graph, progress, set()) == "failed"


def test_resume_waiting_makes_the_node_run_again() -> None:
    graph = build("a>b", "b>c")
    sim = simulate(graph, {"b": WAIT})
    assert sim.outcome == "interrupted"
    assert resume_waiting(sim.progress) == ["b"]
    assert "b" not in sim.progress.nodes
    assert ready_nodes(graph, sim.progress, set()) == ["b"]
    sim = simulate(graph, {"b": {"answer": 42}}, sim.progress, sim.state)
    assert sim.order == ["b", "c"]
    assert sim.outcome == "succeeded"
    assert resume_waiting(sim.progress) == []


# --- loops (§3.7) -----------------------------------------------------------------------


def counting(key: str) -> Callable[[dict[str, Any], int], dict[str, Any]]:
    return lambda state, _iteration: {key: state.get(key, 0) + 1}


@pytest.mark.parametrize(
    ("loop_edge", "counter", "order", "iterations"),
    [
        (loop("c>b", 5, when("state.n", "<", 3)), "b", "abcbcbcd", {"b": 2, "c": 2}),
        (loop("b>b", 5, when("state.n", "<", 3)), "b", "abbbcd", {"b": 2}),
        (loop("c>a", 5, when("state.n", "<", 2)), "a", "abcabcd", {"a": 1, "b": 1, "c": 1}),
    ],
    ids=["back to an earlier node", "self loop", "back to the entry node"],
)
def test_loop_runs_the_body_again_until_its_condition_is_false(
    loop_edge: dict[str, Any], counter: str, order: str, iterations: dict[str, int]
) -> None:
    graph = build("a>b", "b>c", "c>d", loop_edge)
    sim = simulate(graph, {counter: counting("n")})
    assert "".join(sim.order) == order
    assert sim.outcome == "succeeded"
    assert sim.progress.nodes == statuses("aS bS cS dS")
    assert sim.progress.iterations == iterations
    assert sim.progress.loops == {str(len(graph.edges) - 1): max(iterations.values())}


def test_loop_restart_resets_the_body_and_keeps_the_exit_pending() -> None:
    graph = build("a>b", "b>c", "c>d", "a>x", loop("c>b", 3))
    progress = Progress.start(graph)
    for node_id in "abx":
        node_succeeded(graph, progress, node_id, {}, {})
    change = node_succeeded(graph, progress, "c", {}, {})
    assert change.loop_restarted == "c → b"
    assert change.skipped == [] and change.limit_error is None
    assert progress.nodes == {"a": SUCCEEDED, "x": SUCCEEDED}
    assert progress.iterations == {"b": 1, "c": 1}
    assert progress.edges[edge_index(graph, "a>b")] == FIRED
    assert progress.edges[edge_index(graph, "b>c")] == PENDING
    assert progress.edges[edge_index(graph, "c>d")] == PENDING
    assert ready_nodes(graph, progress, set()) == ["b"]
    assert run_outcome(graph, progress, set()) is None


def test_loop_not_firing_resolves_the_sources_other_edges() -> None:
    again = when("output.again", "==", True)
    graph = build("a>b", cond("b>c", "output.ok", "==", True), "b>d", loop("b>a", 3, again))
    sim = simulate(graph, {"b": {"ok": False, "again": False}})
    assert "".join(sim.order) == "abd"
    assert sim.progress.nodes == statuses("aS bS cK dS")
    assert sim.progress.loops == {}


def test_loop_exceeding_max_iterations_names_the_loop() -> None:
    graph = build("a>b", "b>c", "c>d", loop("c>b", 3))
    sim = simulate(graph)
    assert "".join(sim.order) == "abcbcbcbc"  # three restarts, the fourth firing fails
    assert sim.limit_error == (
        "loop c → b exceeded max_iterations 3; raise max_iterations or change its condition"
    )


def test_nested_loop_count_restarts_with_each_outer_iteration() -> None:
    # inner c → b fires once per outer iteration; outer d → a fires once
    graph = build(
        "a>b",
        "b>c",
        "c>d",
        "d>e",
        loop("c>b", 1, when("output.again", "==", True)),
        loop("d>a", 1, when("output.again", "==", True)),
    )
    sim = simulate(
        graph,
        {
            "c": lambda _state, iteration: {"again": iteration % 2 == 0},
            "d": lambda _state, iteration: {"again": iteration == 0},
        },
    )
    assert sim.limit_error is None
    assert "".join(sim.order) == "abcbcdabcbcde"
    assert sim.outcome == "succeeded"
    assert sim.progress.iterations == {"a": 1, "b": 3, "c": 3, "d": 1}


def test_failure_inside_a_loop_body_skips_the_exit() -> None:
    graph = build("a>b", "b>c", "c>d", loop("c>b", 3))
    sim = simulate(graph, {"b": FAIL})
    assert "".join(sim.order) == "ab"
    assert sim.progress.nodes == statuses("aS bF cK dK")
    assert sim.outcome == "failed"


def test_on_error_continue_source_of_a_firing_loop_runs_again() -> None:
    # b fails every time but says on_error: continue; its loop back to a fires while tries < 2.
    # The new iteration must run b again and then leave the loop to c.
    graph = build(
        "a>b", "b>c", loop("b>a", 5, when("state.tries", "<", 2)), b={"on_error": "continue"}
    )
    sim = simulate(graph, {"a": counting("tries"), "b": FAIL})
    assert "".join(sim.order) == "ababc"
    assert sim.progress.nodes == statuses("aS bF cS")
    assert sim.outcome == "succeeded"


# --- Progress as JSON ----------------------------------------------------------------------


def test_progress_round_trips_through_json_and_the_run_continues() -> None:
    graph = build("a>b", "b>c", "c>d", "a>x", loop("c>b", 5, when("state.n", "<", 2)))
    behaviour: dict[str, Behaviour] = {"b": counting("n"), "x": WAIT}
    sim = simulate(graph, behaviour)
    sim.progress.output = {"answer": 1}
    sim.progress.errors["y"] = "kept"
    data = json.loads(json.dumps(sim.progress.to_json()))
    assert isinstance(data["e"], str) and len(data["e"]) == len(graph.edges)
    assert set(data["n"].values()) <= {"s", "f", "k", "w"}  # one letter per node status
    restored = Progress.from_json(data)
    assert restored == sim.progress
    assert restored.to_json() == data
    assert Progress.from_json({k: v for k, v in data.items() if k != "o"}).output is None

    assert resume_waiting(restored) == ["x"]
    after = simulate(graph, {"x": {}}, restored, sim.state)
    assert after.order == ["x"]
    assert after.progress.iterations == {"b": 1, "c": 1}


def test_progress_json_leaves_out_what_is_empty() -> None:
    graph = build("a>b")
    progress = Progress.start(graph)
    assert progress.to_json() == {"e": "p"}
    assert Progress.from_json({"e": "p"}) == progress
    progress.nodes["a"] = "succeeded"
    assert progress.to_json() == {"e": "p", "n": {"a": "s"}}
