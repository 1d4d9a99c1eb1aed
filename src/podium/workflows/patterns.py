"""The workflow patterns as flow templates: `sequential`, `conditional`, `collaborative`.

`build_flow(pattern, agents, config)` returns an ordinary flow (agent, router, template and
output nodes), so a workflow runs, waits, survives restarts and is shown like any other flow.

- sequential: each agent works on the request with the previous agent's answer
  (default chat → recommendations → lead_qualification).
- conditional: a classifier agent answers with JSON metadata (`{"lead_score": 85}`); a router
  sends the request to the first agent whose rule holds (`metadata.lead_score > 70` →
  web_development), else to the default.
- collaborative: the agents take turns (`collaboration_turn` looped on itself), exchanging
  messages and sharing memory, until one hands off (the named agent then finishes) or the
  round limit is reached.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from podium.engine.caps import Caps, over_cap, refuse
from podium.engine.conditions import check_rule
from podium.engine.flow import Flow
from podium.errors import WorkflowInvalid

PATTERNS = ("sequential", "conditional", "collaborative")
DEFAULT_AGENTS = {
    "sequential": ["chat", "recommendations", "lead_qualification"],
    "conditional": ["lead_qualification", "web_development", "chat"],
    "collaborative": ["chat", "web_development", "digital_marketing"],
}
FLOW_PREFIX = "workflow_"
Model = TypeVar("Model", bound=BaseModel)
CONVERSATION = (
    "{% if conversation is defined and conversation %}The conversation so far:\n"
    "{% for m in conversation %}{{ m.role }}: {{ m.content }}\n{% endfor %}\n{% endif %}"
)


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, description="JMESPath over the classifier's metadata")
    operator: str = ">"
    value: Any = None
    next_agent: str = Field(min_length=1)


class RoutingRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conditions: list[dict[str, Any]] = Field(min_length=1)


class ConditionalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    routing_rules: RoutingRules
    classifier: str | None = None
    model: str | None = None


class SequentialConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = None


class CollaborativeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_rounds: int = Field(default=3, ge=1)  # at most PODIUM_MAX_ROUNDS_CAP
    model: str | None = None


def build_flow(
    pattern: str, agents: list[str] | None, config: dict[str, Any], caps: Caps | None = None
) -> Flow:
    """The flow of a pattern; WorkflowInvalid says what is wrong with the agents or config,
    LimitTooHigh names a limit over its server cap (`caps`, default the built-in ones)."""
    if pattern not in PATTERNS:
        raise WorkflowInvalid(
            f"unknown workflow_type {pattern!r}; use one of {', '.join(PATTERNS)}",
            details={"workflow_types": list(PATTERNS)},
        )
    agents = list(agents or DEFAULT_AGENTS[pattern])
    if len(set(agents)) != len(agents):
        raise WorkflowInvalid("participating_agents names an agent more than once")
    if pattern == "sequential":
        return _sequential(agents, _parse(SequentialConfig, config, pattern))
    if pattern == "conditional":
        return _conditional(agents, _parse(ConditionalConfig, config, pattern))
    collaborative = _parse(CollaborativeConfig, config, pattern)
    asked = over_cap("workflow_config.max_rounds", collaborative.max_rounds, "max_rounds",
                     caps or Caps())  # fmt: skip
    refuse([asked] if asked else [])
    return _collaborative(agents, collaborative)


def _parse(model: type[Model], config: dict[str, Any], pattern: str) -> Model:
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        problems = [
            f"workflow_config.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
        ]
        raise WorkflowInvalid(
            f"workflow_config of a {pattern} workflow: {'; '.join(problems)}",
            details={"problems": problems},
        ) from None


def _agent_node(node_id: str, agent: str, task: str, output_key: str, model: str | None) -> Any:
    config: dict[str, Any] = {"agent": agent, "input": task, "output_key": output_key}
    if model:
        config["model"] = model
    return {"id": node_id, "type": "agent", "config": config, "label": agent}


def _sequential(agents: list[str], config: SequentialConfig) -> Flow:
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    previous: str | None = None
    for index, agent in enumerate(agents):
        last = index == len(agents) - 1
        key = "answer" if last else f"{agent}_answer"
        if previous is None:
            task = CONVERSATION + "{{ message }}"
        else:
            task = (
                "{{ message }}\n\n"
                f"{previous} answered:\n{{{{ state[{f'{previous}_answer'!r}] }}}}"
            )
        nodes.append(_agent_node(agent, agent, task, key, config.model))
        if previous is not None:
            edges.append({"source": previous, "target": agent})
        previous = agent
    keys = [f"{agent}_answer" for agent in agents[:-1]] + ["answer"]
    nodes.append({"id": "result", "type": "output", "config": {"keys": keys}})
    edges.append({"source": agents[-1], "target": "result"})
    return _flow("sequential", agents, nodes, edges)


def _conditional(agents: list[str], config: ConditionalConfig) -> Flow:
    rules: list[Condition] = []
    default: str | None = None
    for index, item in enumerate(config.routing_rules.conditions):
        if set(item) == {"default"}:
            if default is not None:
                raise WorkflowInvalid("routing_rules.conditions has more than one default")
            default = str(item["default"])
            continue
        try:
            rules.append(Condition.model_validate(item))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise WorkflowInvalid(
                f"routing_rules.conditions[{index}] is a rule {{field, operator, value, "
                f"next_agent}} or {{default}}: {problems}"
            ) from None
    if not rules:
        raise WorkflowInvalid("routing_rules.conditions needs at least one rule with a next_agent")
    targets = list(
        dict.fromkeys([rule.next_agent for rule in rules] + ([default] if default else []))
    )
    for target in targets:
        if target not in agents:
            raise WorkflowInvalid(
                f"routing rule target {target!r} is not one of participating_agents {agents}"
            )
    classifier = config.classifier or next((a for a in agents if a not in targets), None)
    if classifier is None:
        raise WorkflowInvalid(
            "a conditional workflow needs a classifier: an agent of participating_agents that "
            "no rule routes to (or name it in workflow_config.classifier)"
        )
    if classifier not in agents:
        raise WorkflowInvalid(f"classifier {classifier!r} is not one of participating_agents")
    router_rules = []
    metadata_keys = []
    for index, rule in enumerate(rules):
        field = rule.field if rule.field.startswith("state.") else f"state.{rule.field}"
        if not field.startswith("state.metadata."):
            field = "state.metadata." + field.removeprefix("state.")
        problem = check_rule(field, rule.operator)
        if problem:
            raise WorkflowInvalid(f"routing rule {index + 1}: {problem}")
        metadata_keys.append(field.removeprefix("state.metadata.").split(".")[0])
        router_rules.append(
            {
                "field": field,
                "operator": rule.operator,
                "value": rule.value,
                "target": rule.next_agent,
            }
        )
    classify_id = f"{classifier}_classify" if classifier in targets else classifier
    classify = _agent_node(
        classify_id, classifier, CONVERSATION + "{{ message }}", "classification", config.model
    )
    classify["config"] |= {
        "metadata_key": "metadata",
        "metadata_keys": list(dict.fromkeys(metadata_keys)),
    }
    router: dict[str, Any] = {"rules": router_rules}
    if default:
        router["default"] = default
    nodes = [classify, {"id": "route", "type": "router", "config": router}]
    edges = [{"source": classify_id, "target": "route"}]
    task = CONVERSATION + "{{ message }}\n\n" + classifier + " noted: {{ classification }}"
    for target in targets:
        nodes.append(_agent_node(target, target, task, "answer", config.model))
        edges += [{"source": "route", "target": target}, {"source": target, "target": "result"}]
    nodes.append({"id": "result", "type": "output", "config": {"keys": ["answer", "metadata"]}})
    return _flow("conditional", agents, nodes, edges)


def _collaborative(agents: list[str], config: CollaborativeConfig) -> Flow:
    turn: dict[str, Any] = {
        "agents": agents,
        "max_rounds": config.max_rounds,
        "task": CONVERSATION + "{{ message }}",
    }
    # The digest, not the whole transcript: the last turns, clipped (collaboration.py).
    discussion = "{{ message }}\n\nThe discussion:\n{{ collaboration.digest }}\n"
    handoff = _agent_node(
        "handoff",
        "{{ collaboration.handoff.to }}",
        discussion + "\n{{ collaboration.handoff.from or 'Someone' }} handed the task to you"
        "{% set why = collaboration.handoff.content %}"
        "{% if why is mapping and why.reason %}: {{ why.reason }}"
        "{% endif %}. Finish it.",
        "answer",
        config.model,
    )
    handoff["label"] = "handoff"
    limit = {
        "id": "round_limit",
        "type": "template",
        "config": {
            "output_key": "answer",
            "template": "No agent handed off within {{ collaboration.max_rounds }} rounds."
            "{% if collaboration.transcript %} The last word, from "
            "{{ collaboration.transcript[-1].agent }}: {{ collaboration.transcript[-1].text }}"
            "{% endif %}",
        },
    }
    nodes = [
        {"id": "discussion", "type": "collaboration_turn", "config": turn},
        {
            "id": "route",
            "type": "router",
            "config": {
                "rules": [
                    {
                        "field": "state.collaboration.ended_by",
                        "operator": "==",
                        "value": "handoff",
                        "target": "handoff",
                    }
                ],
                "default": "round_limit",
            },
        },
        handoff,
        limit,
        {"id": "result", "type": "output", "config": {"keys": ["answer", "collaboration"]}},
    ]
    edges: list[dict[str, Any]] = [
        {
            "source": "discussion",
            "target": "discussion",
            "loop": True,
            "max_iterations": config.max_rounds * len(agents),
            "condition": {"field": "state.collaboration.done", "operator": "==", "value": False},
        },
        {"source": "discussion", "target": "route"},
        {"source": "route", "target": "handoff"},
        {"source": "route", "target": "round_limit"},
        {"source": "handoff", "target": "result"},
        {"source": "round_limit", "target": "result"},
    ]
    return _flow("collaborative", agents, nodes, edges)


def _flow(
    pattern: str, agents: list[str], nodes: list[dict[str, Any]], edges: list[dict[str, Any]]
) -> Flow:
    return Flow.model_validate(
        {
            "name": FLOW_PREFIX + pattern,
            "description": f"The {pattern} workflow pattern of {', '.join(agents)}",
            "nodes": nodes,
            "edges": edges,
        }
    )
