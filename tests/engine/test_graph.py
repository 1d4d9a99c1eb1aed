"""`compile_flow`: one clear message per problem, every problem at once; the compiled graph."""

from __future__ import annotations

from typing import Any

import pytest

from podium.engine.flow import Flow
from podium.engine.graph import Graph, compile_flow
from podium.errors import FlowInvalid

# compile_flow without a registry knows the engine's own types only (DESIGN §9)
KNOWN = "human, output, python, router, template"
FUNCTION = "podium.engine.reducers:merge_into_state"  # importable, so python nodes check out


def node(node_id: str, type: str = "output", **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type, **fields}


def edge(spec: str, **extra: Any) -> dict[str, Any]:
    source, target = spec.split(">")
    return {"source": source, "target": target, **extra}


def flow(
    nodes: list[dict[str, Any]] | str, *edges: str | dict[str, Any], **top: Any
) -> dict[str, Any]:
    node_list = [node(n) for n in nodes] if isinstance(nodes, str) else nodes
    edge_list = [edge(e) if isinstance(e, str) else e for e in edges]
    return {"name": "f", "nodes": node_list, "edges": edge_list, **top}


def compile_data(data: dict[str, Any]) -> Graph:
    return compile_flow(Flow.model_validate(data))


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(FlowInvalid) as info:
        compile_data(data)
    assert info.value.flow_name == data["name"]
    assert info.value.details == {"problems": info.value.problems}
    return info.value.problems


def cycle(path: str) -> str:
    arrow = " → ".join(path)
    return (
        f"flow 'f' has a cycle {arrow}; mark the edge {path[-2]} → {path[-1]} "
        "with loop: true and max_iterations"
    )


LOOP_C_B = edge("c>b", loop=True, max_iterations=3)

# name: (flow, the exact problems)
# fmt: off
CASES = {
    "unknown node type lists the known types": (
        flow([node("a"), node("b", "llm")]),
        [f"node 'b' has unknown type 'llm' (known types: {KNOWN})"],
    ),
    "dangling edge": (
        flow("ab", "a>b", "b>zz", "yy>a"),
        ["edge b → zz points to unknown node 'zz'", "edge yy → a points to unknown node 'yy'"],
    ),
    "duplicate node id": (
        flow("aba", "a>b"), ["node id 'a' is used more than once"],
    ),
    "duplicate edge": (
        flow("ab", "a>b", "a>b"), ["edge a → b is declared more than once"],
    ),
    "two-node cycle": (flow("sab", "s>a", "a>b", "b>a"), [cycle("aba")]),
    "three-node cycle, in edge order": (
        flow("sabc", "s>a", "a>b", "b>c", "c>a"), [cycle("abca")],
    ),
    "cycle not through the first node": (
        flow("sabcd", "s>a", "a>b", "b>c", "c>d", "d>b"), [cycle("bcdb")],
    ),
    "self cycle without loop": (
        flow("sa", "s>a", "a>a"), [cycle("aa")],
    ),
    "a cycle through every node leaves no entry node": (
        flow("ab", "a>b", "b>a"),
        [cycle("aba"), "flow 'f' has no entry node (a node with no incoming edge)"],
    ),
    "no nodes at all": (
        flow(""), ["flow 'f' has no entry node (a node with no incoming edge)"],
    ),
    "unknown operator": (
        flow("ab", edge("a>b", condition={"field": "state.x", "operator": "like"})),
        ["edge a → b condition: operator 'like' is unknown "
         "(use one of ==, !=, >, >=, <, <=, in, not_in, contains, exists)"],
    ),
    "unknown reducer": (
        flow("a", state={"reducers": {"messages": "append", "log": "concat"}}),
        ["state key 'log' has unknown reducer 'concat' (use one of replace, append, merge)"],
    ),
    "loop edge without max_iterations": (
        flow("abc", "a>b", "b>c", edge("c>b", loop=True)),
        ["loop edge c → b needs max_iterations"],
    ),
    "max_iterations on a plain edge": (
        flow("ab", edge("a>b", max_iterations=3)),
        ["edge a → b has max_iterations but is not a loop edge; add loop: true"],
    ),
    "loop edge going forward": (
        flow("abc", "a>b", "b>c", edge("a>c", loop=True, max_iterations=2)),
        ["loop edge a → c must go back to an earlier node: 'c' does not lead to 'a'"],
    ),
    "loop edge between parallel branches": (
        flow("abc", "a>b", "a>c", edge("b>c", loop=True, max_iterations=2)),
        ["loop edge b → c must go back to an earlier node: 'c' does not lead to 'b'"],
    ),
    "loop body left from a node other than the source": (
        flow("abcdx", "a>b", "b>c", "c>d", "b>x", LOOP_C_B),
        ["edge b → x leaves the loop c → b from 'b'; a loop body may only be left from 'c'"],
    ),
    "template syntax error": (
        flow([node("t", "template", config={"template": "Hi {{ name }"})]),
        ["node 't': template syntax error on line 1: unexpected '}'"],
    ),
    "python function that cannot be imported": (
        flow([node("p", "python", config={"function": "no_such_module_xyz:run"}),
              node("q", "python", config={"function": "podium.engine.reducers:missing"})], "p>q"),
        ["node 'p': cannot import 'no_such_module_xyz:run': No module named 'no_such_module_xyz'",
         "node 'q': cannot import 'podium.engine.reducers:missing': "
         "podium.engine.reducers has no 'missing'"],
    ),
    "python function that is not callable": (
        flow([node("p", "python", config={"function": "podium.engine.reducers:REDUCERS"})]),
        ["node 'p': 'podium.engine.reducers:REDUCERS' is not a function"],
    ),
    "bad node config names the field": (
        flow([node("h", "human", config={"choices": "yes"}),
              node("p", "python", config={"function": "not a reference"})], "h>p"),
        ["node 'h' config.question: Field required",
         "node 'h' config.choices: Input should be a valid list",
         "node 'p' config.function: String should match pattern "
         "'^[A-Za-z_][\\w.]*:[A-Za-z_][\\w.]*$'"],
    ),
    "router rules and edges must match": (
        flow([node("r", "router", config={"rules": [
            {"field": "state.x", "operator": ">", "value": 1, "target": "a"},
            {"field": "state.x", "operator": "=~", "target": "b"}], "default": "c"}),
            node("a"), node("b"), node("c"), node("d")], "r>a", "r>d"),
        ["router 'r' rule 2: operator '=~' is unknown "
         "(use one of ==, !=, >, >=, <, <=, in, not_in, contains, exists)",
         "router 'r' routes to 'b' but has no edge r → b; add the edge",
         "router 'r' routes to 'c' but has no edge r → c; add the edge",
         "router 'r' has an edge to 'd' that no rule or default names"],
    ),
}
# fmt: on


@pytest.mark.parametrize(("data", "expected"), CASES.values(), ids=list(CASES))
def test_problem_message(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(data) == expected


def test_invalid_jmespath_names_the_field_and_the_parsers_reason() -> None:
    router = node("r", "router", config={"rules": [{"field": "state.[", "target": "c"}]})
    data = flow(
        [node("a"), node("b"), router, node("c")],
        edge("a>b", condition={"field": "state.score >", "operator": ">"}),
        "b>r",
        "r>c",
    )
    rule_problem, edge_problem = problems(data)  # node problems come before edge problems
    for problem, start in [
        (rule_problem, "router 'r' rule 1: field 'state.[' is not a valid JMESPath expression: "),
        (edge_problem, "edge a → b condition: field 'state.score >' is not a valid JMESPath "),
    ]:
        assert problem.startswith(start)
        assert "Incomplete expression" in problem  # the parser's reason


def test_every_problem_is_reported_at_once() -> None:
    data = flow(
        [node("a"), node("a"), node("b", "llm"), node("h", "human"), node("c")],
        "a>b",
        "a>b",
        "b>ghost",
        edge("b>c", condition={"field": "state.x", "operator": "~"}),
        edge("c>a", loop=True),
        edge("a>c", max_iterations=2),
        state={"reducers": {"log": "concat"}},
    )
    assert problems(data) == [
        "node id 'a' is used more than once",
        f"node 'b' has unknown type 'llm' (known types: {KNOWN})",
        "node 'h' config.question: Field required",
        "state key 'log' has unknown reducer 'concat' (use one of replace, append, merge)",
        "edge a → b is declared more than once",
        "edge b → ghost points to unknown node 'ghost'",
        "edge b → c condition: operator '~' is unknown "
        "(use one of ==, !=, >, >=, <, <=, in, not_in, contains, exists)",
        "loop edge c → a needs max_iterations",
        "edge a → c has max_iterations but is not a loop edge; add loop: true",
    ]


def test_a_cycle_is_reported_together_with_other_problems() -> None:
    # A user fixing a flow should see every problem in one pass, the cycle included.
    data = flow([node("s"), node("a", "llm"), node("b")], "s>a", "a>b", "b>a")
    assert problems(data) == [
        f"node 'a' has unknown type 'llm' (known types: {KNOWN})",
        cycle("aba"),
    ]


def test_router_loop_edges_are_not_route_targets() -> None:
    rules = [{"field": "state.again", "operator": "==", "value": True, "target": "b"}]
    router = node("r", "router", config={"rules": rules, "default": "c"})
    data = flow(
        [node("a"), router, node("b"), node("c")],
        "a>r",
        "r>b",
        "r>c",
        edge("r>a", loop=True, max_iterations=2),
    )
    graph = compile_data(data)
    assert [loop.label for loop in graph.loops.values()] == ["r → a"]


def test_a_valid_flow_compiles() -> None:
    nodes = [
        node("p", "python", config={"function": FUNCTION}),
        node("t", "template", config={"template": "{{ x }}"}),
        node("h", "human", config={"question": "ok?"}),
        node("o"),
    ]
    data = flow(
        nodes,
        "p>t",
        edge("t>h", condition={"field": "state.x", "operator": "exists"}),
        "h>o",
        state={"reducers": {"messages": "append", "profile": "merge", "x": "replace"}},
    )
    graph = compile_data(data)
    assert graph.order == ["p", "t", "h", "o"]
    assert graph.incoming == {"p": [], "t": [0], "h": [1], "o": [2]}
    assert graph.outgoing == {"p": [0], "t": [1], "h": [2], "o": []}
    assert graph.loops == {}
    assert set(graph.nodes) == {"p", "t", "h", "o"}


# --- the compiled graph ---------------------------------------------------------------------


def test_descendants_follow_non_loop_edges_only() -> None:
    graph = compile_data(
        flow("abcdex", "a>b", "a>c", "b>d", "c>d", "d>e", edge("d>b", loop=True, max_iterations=2))
    )
    assert graph.descendants("a") == {"b", "c", "d", "e"}
    assert graph.descendants("b") == {"d", "e"}
    assert graph.descendants("d") == {"e"}
    assert graph.descendants("e") == frozenset()
    assert graph.descendants("x") == frozenset()
    assert graph.descendants("b") is graph.descendants("b")  # computed once


def test_topological_order_respects_every_edge() -> None:
    graph = compile_data(flow("edcba", "a>b", "b>c", "a>d", "d>c", "c>e"))
    position = {n: i for i, n in enumerate(graph.order)}
    assert sorted(graph.order) == list("abcde")
    assert all(position[e.source] < position[e.target] for e in graph.edges)


@pytest.mark.parametrize(
    ("edges", "loop", "body"),
    [
        (["a>b", "b>c", "c>d"], "c>b", "bc"),
        (["a>b", "b>c", "c>d"], "c>a", "abc"),
        (["a>b", "b>c"], "b>b", "b"),
        # parallel branches inside the body; an edge into the body from outside stays outside
        (["a>b", "b>c", "b>e", "c>d", "e>d", "d>f", "x>c"], "d>b", "bcde"),
    ],
)
def test_loop_body_is_every_node_on_a_path_from_target_to_source(
    edges: list[str], loop: str, body: str
) -> None:
    nodes = sorted({n for e in [*edges, loop] for n in e.split(">")})
    data = flow("".join(nodes), *edges, edge(loop, loop=True, max_iterations=4))
    graph = compile_data(data)
    [compiled] = graph.loops.values()
    source, target = loop.split(">")
    assert (compiled.source, compiled.target, compiled.max_iterations) == (source, target, 4)
    assert compiled.body == frozenset(body)
    assert compiled.label == f"{source} → {target}"
    assert graph.loops_from[source] == [compiled]
    assert graph.edges[compiled.edge].loop
    assert compiled.edge not in graph.outgoing[source]
    assert compiled.edge not in graph.incoming[target]


def test_nested_loops() -> None:
    data = flow(
        "abcde",
        "a>b",
        "b>c",
        "c>d",
        "d>e",
        edge("c>b", loop=True, max_iterations=2),
        edge("d>a", loop=True, max_iterations=2),
    )
    graph = compile_data(data)
    bodies = {loop.label: loop.body for loop in graph.loops.values()}
    assert bodies == {"c → b": frozenset("bc"), "d → a": frozenset("abcd")}
