"""The node-type registry: what a visual editor reads, and the checks each type adds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from podium.engine.flow import Flow, Node
from podium.engine.node_types import (
    NodeType,
    catalogue,
    config_problems,
    get_node_type,
    node_type_names,
)

BUILTINS = ["human", "output", "python", "router", "template"]


def entry(name: str) -> dict[str, Any]:
    [found] = [e for e in catalogue() if e["type"] == name]
    return found


def test_the_builtin_types_are_registered() -> None:
    assert set(BUILTINS) <= set(node_type_names())
    assert node_type_names() == sorted(node_type_names())
    assert [e["type"] for e in catalogue()] == node_type_names()
    for name in BUILTINS:
        node_type = get_node_type(name)
        assert isinstance(node_type, NodeType)
        assert node_type.name == name
    assert get_node_type("llm") is None


def test_the_catalogue_is_json() -> None:
    assert json.loads(json.dumps(catalogue())) == catalogue()


# fmt: off
ENTRIES = {
    # type: (required config fields, every config field, input ports, output ports)
    "python": (["function"], ["function"], ["in"], ["out"]),
    "router": ([], ["rules", "default"], ["in"], ["routes"]),
    "human": (["question"], ["question", "choices", "schema", "output_key"], ["in"], ["out"]),
    "template": (["template"], ["template", "output_key"], ["in"], ["out"]),
    "output": ([], ["keys"], ["in"], []),
}
# fmt: on


@pytest.mark.parametrize(("name", "shape"), ENTRIES.items(), ids=list(ENTRIES))
def test_catalogue_entry(name: str, shape: tuple[list[str], ...]) -> None:
    required, fields, inputs, outputs = shape
    found = entry(name)
    assert set(found) == {"type", "description", "config_schema", "ports", "output_schema"}
    assert found["description"]
    schema = found["config_schema"]
    assert schema["type"] == "object"
    assert schema.get("required", []) == required
    assert list(schema["properties"]) == fields
    assert found["ports"] == {"inputs": inputs, "outputs": outputs}
    assert found["output_schema"]["type"] == "object"


def test_schemas_describe_what_an_editor_needs() -> None:
    python = entry("python")["config_schema"]["properties"]["function"]
    assert python["pattern"] == r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$"
    assert "package.module:function" in python["description"]
    router = entry("router")["config_schema"]
    rule = router["$defs"]["RouteRule"]
    assert rule["required"] == ["field", "target"]
    assert rule["properties"]["operator"]["default"] == "=="
    assert rule["additionalProperties"] is False
    assert entry("human")["config_schema"]["properties"]["output_key"]["default"] == "answer"
    assert entry("template")["config_schema"]["properties"]["output_key"]["default"] == "text"
    assert "output_key" in entry("template")["output_schema"]["description"]


def test_human_config_reads_schema_under_its_json_name() -> None:
    human = get_node_type("human")
    assert human is not None
    config: Any = human.parse_config({"question": "Age?", "schema": {"type": "integer"}})
    assert config.schema_ == {"type": "integer"}
    assert config.output_key == "answer"


# --- config_problems -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "config", "expected"),
    [
        ("python", {"function": "pkg.mod:fn"}, []),
        ("python", {}, ["node 'n' config.function: Field required"]),
        (
            "python",
            {"function": "pkg.mod.fn"},
            [
                "node 'n' config.function: String should match pattern "
                r"'^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$'"
            ],
        ),
        ("template", {"template": 3}, ["node 'n' config.template: Input should be a valid string"]),
        ("output", {"keys": "score"}, ["node 'n' config.keys: Input should be a valid list"]),
        ("output", {"keys": ["a"], "extra": 1}, []),  # an editor's extra keys are allowed
        ("router", {}, []),
        (
            "router",
            {"rules": [{"field": "state.x", "targt": "a"}]},
            [
                "node 'n' config.rules.0.target: Field required",
                "node 'n' config.rules.0.targt: Extra inputs are not permitted",
            ],
        ),
        (
            "human",
            {"question": "q", "choices": [1]},
            ["node 'n' config.choices.0: Input should be a valid string"],
        ),
    ],
)
def test_config_problems(type_name: str, config: dict[str, Any], expected: list[str]) -> None:
    node_type = get_node_type(type_name)
    assert node_type is not None
    node = Node(id="n", type=type_name, config=config)
    assert config_problems(node_type, node) == expected


# --- router checks -------------------------------------------------------------------------


def router_problems(
    config: dict[str, Any], targets: list[str], loops: tuple[str, ...] = ()
) -> list:
    edges = [{"source": "r", "target": t} for t in targets]
    edges += [{"source": "r", "target": t, "loop": True, "max_iterations": 2} for t in loops]
    nodes = [{"id": "r", "type": "router", "config": config}]
    nodes += [{"id": t, "type": "output"} for t in {*targets, *loops}]
    flow = Flow.model_validate({"name": "f", "nodes": nodes, "edges": edges})
    router = get_node_type("router")
    assert router is not None
    return router.check(flow.node("r"), flow, None)


def rule(target: str, operator: str = "==", field: str = "state.x") -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": 1, "target": target}


def test_a_router_whose_rules_and_edges_match_is_fine() -> None:
    assert router_problems({"rules": [rule("a"), rule("b")], "default": "c"}, ["a", "b", "c"]) == []
    assert router_problems({"rules": [rule("a"), rule("a", ">")]}, ["a"]) == []


def test_a_router_target_without_an_edge() -> None:
    assert router_problems({"rules": [rule("a"), rule("b")], "default": "c"}, ["a"]) == [
        "router 'r' routes to 'b' but has no edge r → b; add the edge",
        "router 'r' routes to 'c' but has no edge r → c; add the edge",
    ]


def test_a_router_edge_that_no_rule_names() -> None:
    assert router_problems({"rules": [rule("a")]}, ["a", "z", "y"]) == [
        "router 'r' has an edge to 'y' that no rule or default names",
        "router 'r' has an edge to 'z' that no rule or default names",
    ]


def test_a_router_loop_edge_is_not_a_route() -> None:
    assert router_problems({"rules": [rule("a")]}, ["a"], loops=("back",)) == []
    assert router_problems({"rules": [rule("back")]}, [], loops=("back",)) == [
        "router 'r' routes to 'back' but has no edge r → back; add the edge"
    ]


def test_router_rules_are_checked_one_by_one() -> None:
    config = {"rules": [rule("a"), rule("b", "≈"), rule("c", field="state.[")]}
    problems = router_problems(config, ["a", "b", "c"])
    assert problems[0] == (
        "router 'r' rule 2: operator '≈' is unknown "
        "(use one of ==, !=, >, >=, <, <=, in, not_in, contains, exists)"
    )
    assert problems[1].startswith(
        "router 'r' rule 3: field 'state.[' is not a valid JMESPath expression: "
    )
    assert len(problems) == 2


# --- other checks --------------------------------------------------------------------------


def check(type_name: str, config: dict[str, Any]) -> list[str]:
    node_type = get_node_type(type_name)
    assert node_type is not None
    flow = Flow.model_validate({"name": "f", "nodes": [{"id": "n", "type": type_name}]})
    return node_type.check(Node(id="n", type=type_name, config=config), flow, None)


def test_template_check() -> None:
    assert check("template", {"template": "Hi {{ name }} {% if x %}!{% endif %}"}) == []
    [problem] = check("template", {"template": "line one\n{% if x %}"})
    # Jinja's own wording follows the line number
    assert problem.startswith(
        "node 'n': template syntax error on line 2: Unexpected end of template"
    )


def test_python_check() -> None:
    assert check("python", {"function": "json:dumps"}) == []
    assert check("python", {"function": "json:nope"}) == [
        "node 'n': cannot import 'json:nope': json has no 'nope'"
    ]
    assert check("python", {"function": "json.decoder:JSONDecoder.decode"}) == []


@pytest.mark.parametrize("type_name", ["human", "output"])
def test_types_without_extra_checks(type_name: str) -> None:
    assert check(type_name, {"question": "q"}) == []
