"""FlowBuilder: flows defined in Python are the same model as flows saved as JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from podium.engine.builder import FlowBuilder, function_ref
from podium.engine.flow import Rule
from podium.engine.graph import compile_flow
from podium.engine.loader import parse_flow
from podium.errors import FlowInvalid


async def classify(ctx: Any) -> dict[str, Any]:
    return {"score": 80}


class Handlers:
    @staticmethod
    async def notify(ctx: Any) -> None:
        return None


MODULE = classify.__module__

EQUIVALENT_JSON = f"""
{{
  "name": "lead_intake",
  "state": {{"reducers": {{"messages": "append", "profile": "merge"}}}},
  "limits": {{"max_steps": 50, "timeout_seconds": 30}},
  "nodes": [
    {{"id": "classify", "type": "python", "config": {{"function": "{MODULE}:classify"}},
      "retry": {{"max_attempts": 3, "backoff_seconds": 0.5}}}},
    {{"id": "ask", "type": "human", "config": {{"question": "Budget?", "choices": ["low", "high"],
      "output_key": "budget"}}}},
    {{"id": "route", "type": "router", "config": {{"rules": [
      {{"field": "state.score", "operator": ">", "value": 70, "target": "sales"}}],
      "default": "nurture"}}}},
    {{"id": "sales", "type": "python", "config": {{"function": "{MODULE}:Handlers.notify"}},
      "on_error": "continue", "timeout_seconds": 5}},
    {{"id": "nurture", "type": "template", "config": {{"template": "Hi {{{{ name }}}}",
      "output_key": "greeting"}}}},
    {{"id": "check", "type": "python", "config": {{"function": "{MODULE}:classify"}}}},
    {{"id": "done", "type": "output", "config": {{"keys": ["score"]}}, "join": "all"}}
  ],
  "edges": [
    {{"source": "classify", "target": "ask"}},
    {{"source": "ask", "target": "route"}},
    {{"source": "route", "target": "sales"}},
    {{"source": "sales", "target": "check"}},
    {{"source": "route", "target": "nurture"}},
    {{"source": "nurture", "target": "check",
      "condition": {{"field": "state.greeting", "operator": "exists", "value": null}}}},
    {{"source": "check", "target": "done",
      "condition": {{"field": "output.score", "operator": ">=", "value": 50}}}},
    {{"source": "check", "target": "classify", "loop": true, "max_iterations": 3,
      "condition": {{"field": "output.score", "operator": "<", "value": 50}}}}
  ]
}}
"""


def build_lead_intake() -> FlowBuilder:
    rules = [{"field": "state.score", "operator": ">", "value": 70, "target": "sales"}]
    return (
        FlowBuilder(
            "lead_intake",
            reducers={"messages": "append", "profile": "merge"},
            max_steps=50,
            timeout_seconds=30,
        )
        .python("classify", classify, retry={"max_attempts": 3, "backoff_seconds": 0.5})
        .human("ask", "Budget?", choices=["low", "high"], output_key="budget")
        .router("route", rules, default="nurture")
        .python("sales", Handlers.notify, on_error="continue", timeout_seconds=5)
        .template("nurture", "Hi {{ name }}", output_key="greeting")
        .python("check", f"{MODULE}:classify")
        .output("done", ["score"], join="all")
        .chain("classify", "ask", "route", "sales", "check")
        .edge("route", "nurture")
        .edge("nurture", "check", when={"field": "state.greeting", "operator": "exists"})
        .edge("check", "done", when=Rule(field="output.score", operator=">=", value=50))
        .edge(
            "check",
            "classify",
            when=Rule(field="output.score", operator="<", value=50),
            loop=True,
            max_iterations=3,
        )
    )


def test_the_builder_makes_the_same_flow_as_the_equivalent_json() -> None:
    from_json = parse_flow(json.loads(EQUIVALENT_JSON))
    built = build_lead_intake().build()
    assert built == from_json
    assert built.definition() == from_json.definition()


def test_the_built_flow_compiles_and_its_definition_round_trips() -> None:
    built = build_lead_intake().build()
    graph = compile_flow(built)
    assert [loop.label for loop in graph.loops.values()] == ["check → classify"]
    assert graph.nodes["done"].join == "all"
    assert graph.nodes["sales"].on_error == "continue"
    again = parse_flow(json.loads(json.dumps(built.definition())))
    assert again == built


def test_function_references_name_module_and_qualname() -> None:
    assert function_ref(classify) == f"{MODULE}:classify"
    assert function_ref(Handlers.notify) == f"{MODULE}:Handlers.notify"
    assert function_ref(json.dumps) == "json:dumps"


def test_a_function_defined_inside_a_function_is_refused() -> None:
    async def inner(ctx: Any) -> None:
        return None

    with pytest.raises(ValueError) as info:
        FlowBuilder("f").python("a", inner)
    assert str(info.value) == (
        "test_a_function_defined_inside_a_function_is_refused.<locals>.inner is defined inside "
        "a function; a flow's functions must be importable (define it at module level)"
    )


def test_a_lambda_is_refused() -> None:
    with pytest.raises(ValueError) as info:
        function_ref(lambda ctx: None)
    assert str(info.value) == (
        "a lambda cannot be a flow's function: define a named function at module level"
    )


def test_chain_and_edges_keep_their_order() -> None:
    flow = FlowBuilder("f").output("a").output("b").output("c").chain("a", "b", "c").build()
    assert [(e.source, e.target) for e in flow.edges] == [("a", "b"), ("b", "c")]
    assert FlowBuilder("f").output("a").chain("a").build().edges == []


def test_generic_node_and_defaults() -> None:
    flow = FlowBuilder("f").node("x", "output").build()
    assert flow.node("x").config == {}
    assert flow.state.reducers == {}
    assert flow.limits.max_steps is None and flow.limits.timeout_seconds is None
    assert flow.node("x").retry.max_attempts == 1


def test_a_built_flow_is_checked_like_a_json_flow() -> None:
    flow = (
        FlowBuilder("f")
        .output("a")
        .output("b")
        .edge("a", "b")
        .edge("b", "a", loop=True)
        .edge("a", "ghost")
        .build()
    )
    with pytest.raises(FlowInvalid) as info:
        compile_flow(flow)
    assert info.value.problems == [
        "loop edge b → a needs max_iterations",
        "edge a → ghost points to unknown node 'ghost'",
    ]


def test_defaults_are_left_out_as_a_hand_written_flow_leaves_them_out() -> None:
    # The stored definition is what decides whether a flow changed (a new version), so a flow
    # built in Python must equal the same flow written by hand, optional keys omitted.
    built = (
        FlowBuilder("f")
        .human("ask", "Budget?")
        .router("route", [{"field": "state.budget", "operator": "exists", "target": "card"}])
        .template("card", "Hi {{ name }}")
        .output("done")
        .chain("ask", "route", "card", "done")
        .build()
    )
    by_hand = parse_flow(
        {
            "name": "f",
            "nodes": [
                {"id": "ask", "type": "human", "config": {"question": "Budget?"}},
                {
                    "id": "route",
                    "type": "router",
                    "config": {
                        "rules": [{"field": "state.budget", "operator": "exists", "target": "card"}]
                    },
                },
                {"id": "card", "type": "template", "config": {"template": "Hi {{ name }}"}},
                {"id": "done", "type": "output"},
            ],
            "edges": [
                {"source": "ask", "target": "route"},
                {"source": "route", "target": "card"},
                {"source": "card", "target": "done"},
            ],
        }
    )
    assert built.definition() == by_hand.definition()
