"""The workflow patterns as flows: each builds a flow that compiles, and every bad agent list
or config is refused with a message that says what to change."""

from __future__ import annotations

from typing import Any

import pytest

from podium.assembly import default_registry
from podium.engine.caps import Caps
from podium.engine.graph import compile_flow
from podium.errors import LimitTooHigh, WorkflowInvalid
from podium.workflows.patterns import build_flow

RULES = {
    "routing_rules": {
        "conditions": [
            {
                "field": "metadata.lead_score",
                "operator": ">",
                "value": 70,
                "next_agent": "web_development",
            },
            {"default": "chat"},
        ]
    }
}


def test_sequential_chains_the_agents_and_gives_each_the_previous_answer() -> None:
    flow = build_flow("sequential", None, {})
    graph = compile_flow(flow, registry=default_registry())
    assert graph.order == ["chat", "recommendations", "lead_qualification", "result"]
    second = flow.node("recommendations").config
    assert "{{ state['chat_answer'] }}" in second["input"]
    assert flow.node("lead_qualification").config["output_key"] == "answer"
    assert flow.node("result").config["keys"] == [
        "chat_answer",
        "recommendations_answer",
        "answer",
    ]


def test_conditional_routes_on_the_classifiers_metadata() -> None:
    flow = build_flow("conditional", ["chat", "lead_qualification", "web_development"], RULES)
    compile_flow(flow, registry=default_registry())
    classify = flow.node("lead_qualification").config
    assert classify["metadata_key"] == "metadata" and classify["metadata_keys"] == ["lead_score"]
    assert flow.node("route").config == {
        "rules": [
            {
                "field": "state.metadata.lead_score",
                "operator": ">",
                "value": 70,
                "target": "web_development",
            }
        ],
        "default": "chat",
    }


def test_a_classifier_that_is_also_a_target_gets_its_own_node() -> None:
    config = {**RULES, "classifier": "chat"}
    flow = build_flow("conditional", ["chat", "web_development"], config)
    assert [node.id for node in flow.nodes] == [
        "chat_classify",
        "route",
        "web_development",
        "chat",
        "result",
    ]
    compile_flow(flow, registry=default_registry())


def test_collaborative_loops_the_turn_until_done_then_routes_on_how_it_ended() -> None:
    flow = build_flow("collaborative", ["a", "b", "c"], {"max_rounds": 4})
    graph = compile_flow(flow, registry=default_registry())
    loop = next(iter(graph.loops.values()))
    assert (loop.source, loop.target, loop.max_iterations) == ("discussion", "discussion", 12)
    assert flow.node("discussion").config["agents"] == ["a", "b", "c"]
    assert flow.node("handoff").config["agent"] == "{{ collaboration.handoff.to }}"


def test_a_model_in_the_config_is_given_to_every_agent_node() -> None:
    flow = build_flow("sequential", ["chat", "generator"], {"model": "offline/script"})
    assert {n.config.get("model") for n in flow.nodes if n.type == "agent"} == {"offline/script"}


@pytest.mark.parametrize(
    ("pattern", "agents", "config", "message"),
    [
        (
            "parallel",
            None,
            {},
            "unknown workflow_type 'parallel'; use one of sequential, conditional, collaborative",
        ),
        ("sequential", ["chat", "chat"], {}, "participating_agents names an agent more than once"),
        (
            "sequential",
            None,
            {"steps": 3},
            "workflow_config of a sequential workflow: workflow_config.steps: Extra inputs are "
            "not permitted",
        ),
        (
            "conditional",
            None,
            {"routing_rules": {"conditions": []}},
            "workflow_config of a conditional workflow: "
            "workflow_config.routing_rules.conditions: List should have at least 1 item after "
            "validation, not 0",
        ),
        (
            "conditional",
            None,
            {"routing_rules": {"conditions": [{"default": "chat"}]}},
            "routing_rules.conditions needs at least one rule with a next_agent",
        ),
        (
            "conditional",
            None,
            {"routing_rules": {"conditions": [{"field": "score"}]}},
            "routing_rules.conditions[0] is a rule {field, operator, value, next_agent} or "
            "{default}: next_agent: Field required",
        ),
        (
            "conditional",
            None,
            {
                "routing_rules": {
                    "conditions": [
                        {"field": "s", "next_agent": "chat"},
                        {"default": "chat"},
                        {"default": "chat"},
                    ]
                }
            },
            "routing_rules.conditions has more than one default",
        ),
        (
            "conditional",
            ["chat", "web_development"],
            RULES,
            "a conditional workflow needs a classifier: an agent of participating_agents that no "
            "rule routes to (or name it in workflow_config.classifier)",
        ),
        (
            "conditional",
            None,
            {**RULES, "classifier": "nobody"},
            "classifier 'nobody' is not one of participating_agents",
        ),
        (
            "conditional",
            None,
            {"routing_rules": {"conditions": [{"field": "a[", "next_agent": "chat"}]}},
            "routing rule 1: field 'state.metadata.a[' is not a valid JMESPath expression",
        ),
    ],
)
def test_bad_patterns_say_what_is_wrong(
    pattern: str, agents: list[str] | None, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(WorkflowInvalid) as raised:
        build_flow(pattern, agents, config)
    assert str(raised.value.message).startswith(message)


def test_rounds_over_the_server_cap_are_refused_naming_the_setting() -> None:
    with pytest.raises(LimitTooHigh) as raised:
        build_flow("collaborative", None, {"max_rounds": 51}, Caps(max_rounds=50))
    assert raised.value.message.startswith(
        "workflow_config.max_rounds 51 is over the server cap of 50 (PODIUM_MAX_ROUNDS_CAP)"
    )
    assert build_flow("collaborative", None, {"max_rounds": 80}, Caps(max_rounds=80)).nodes
