"""Agent definitions: what is valid, how each problem is reported, and the built-in agents."""

from __future__ import annotations

from typing import Any

import pytest

from podium.agents.builtin import BUILTIN_AGENTS, CALENDAR_TOOLS, CRM_TOOLS, EMAIL_TOOLS
from podium.agents.definition import AgentDefinition, parse_definition
from podium.engine.caps import Caps
from podium.errors import InvalidInput, LimitTooHigh
from podium.tools.base import DEFAULT

NOT_A_NAME = (
    "is not an agent name: lower-case letters, digits, '_' and '-', starting with a letter, "
    "at most 64 (e.g. 'support_bot')"
)
NOT_A_MODEL = (
    "is not a model reference `provider/model`, e.g. 'ollama/llama3.2', 'openai/gpt-4o-mini' "
    "or 'offline/echo'"
)

FULL: dict[str, Any] = {
    "name": "support-bot_2",
    "description": "Answers support tickets.",
    "instructions": "Be kind.",
    "model": "openrouter/meta-llama/llama-3-8b",
    "tools": ["crm_search_contacts", "mcp:files"],
    "capabilities": {"tags": ["support"], "description": "Support answers."},
    "max_turns": 3,
    "temperature": 0.2,
    "token_budget": 5000,
    "max_tokens": 400,
    "script": [{"text": "hi"}, {"tool_calls": [{"name": "x", "arguments": {}}]}],
}


def problems(data: Any) -> list[str]:
    with pytest.raises(InvalidInput) as refused:
        parse_definition(data)
    found: list[str] = refused.value.details["problems"]
    assert str(refused.value) == "the agent definition is not valid: " + "; ".join(found)
    return found


def test_a_name_alone_is_a_valid_definition_with_defaults() -> None:
    agent = parse_definition({"name": "helper"})
    assert agent.name == "helper"
    assert agent.model is None and agent.script is None and agent.token_budget is None
    assert agent.tools == []
    assert agent.max_turns == 8
    assert agent.capabilities.tags == []


def test_every_field_is_kept() -> None:
    agent = parse_definition(FULL)
    assert agent.model == "openrouter/meta-llama/llama-3-8b"
    assert agent.tools == ["crm_search_contacts", "mcp:files"]
    assert agent.capabilities.description == "Support answers."
    assert (agent.max_turns, agent.temperature, agent.token_budget, agent.max_tokens) == (
        3,
        0.2,
        5000,
        400,
    )
    assert agent.script == FULL["script"]


def test_to_json_round_trips_and_leaves_unset_options_out() -> None:
    agent = parse_definition(FULL)
    assert agent.to_json() == FULL
    assert parse_definition(agent.to_json()) == agent
    minimal = parse_definition({"name": "helper"}).to_json()
    assert minimal == {
        "name": "helper",
        "description": "",
        "instructions": "",
        "tools": [],
        "capabilities": {"tags": [], "description": ""},
        "max_turns": 8,
    }


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"name": "Bad Name"}, f"name: 'Bad Name' {NOT_A_NAME}"),
        ({"name": "9lives"}, f"name: '9lives' {NOT_A_NAME}"),
        ({"max_turns": 0}, "max_turns: Input should be greater than or equal to 1"),
        ({"tools": ["a", "b", "a"]}, "tools: tool 'a' is listed twice"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"model": "gpt-4o"}, f"model: 'gpt-4o' {NOT_A_MODEL}"),
        ({"temperature": 2.5}, "temperature: Input should be less than or equal to 2"),
        ({"token_budget": 0}, "token_budget: Input should be greater than or equal to 1"),
        (
            {"capabilities": {"tags": [], "colour": "red"}},
            "capabilities.colour: Extra inputs are not permitted",
        ),
        ({"script": [1]}, "script.0: Input should be a valid dictionary"),
    ],
)
def test_a_problem_is_reported_as_field_and_reason(change: dict[str, Any], problem: str) -> None:
    assert problems({"name": "helper", **change}) == [problem]


def test_every_problem_is_listed_at_once() -> None:
    assert problems({"name": "Bad Name", "max_turns": 0, "tools": ["a", "a"], "colour": 1}) == [
        f"name: 'Bad Name' {NOT_A_NAME}",
        "tools: tool 'a' is listed twice",
        "max_turns: Input should be greater than or equal to 1",
        "colour: Extra inputs are not permitted",
    ]


def test_a_missing_name_is_a_problem() -> None:
    assert problems({"description": "no name"}) == ["name: Field required"]


def test_a_definition_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_definition(["name", "helper"], what="creator's answer")
    assert str(refused.value) == "the creator's answer must be a JSON object, got list"


def test_the_what_names_the_definition_in_the_message() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_definition({"name": "x", "max_turns": 0}, what="creator's answer")
    assert str(refused.value) == (
        "the creator's answer is not valid: max_turns: Input should be greater than or equal to 1"
    )


# --- the built-in agents ----------------------------------------------------------------


def test_the_builtin_agents_are_the_nine_of_every_app() -> None:
    assert sorted(BUILTIN_AGENTS) == [
        "chat",
        "creator",
        "digital_marketing",
        "driver",
        "generator",
        "guide",
        "lead_qualification",
        "recommendations",
        "web_development",
    ]


@pytest.mark.parametrize("name", sorted(BUILTIN_AGENTS))
def test_every_builtin_agent_is_valid(name: str) -> None:
    agent = BUILTIN_AGENTS[name]
    assert agent.name == name
    assert parse_definition(agent.to_json()) == agent
    assert agent.description and agent.instructions
    assert agent.capabilities.tags and agent.capabilities.description
    assert agent.model is None  # the app's or the server's default model


def test_the_domain_agents_list_the_integration_tools() -> None:
    assert CRM_TOOLS == [
        "crm_create_contact",
        "crm_search_contacts",
        "crm_create_deal",
        "crm_list_deals",
    ]
    assert EMAIL_TOOLS == ["email_send"]
    assert CALENDAR_TOOLS == ["calendar_create_event", "calendar_list_events"]
    # and the seed's per-agent tools (podium.tools.integrations.leads)
    assert BUILTIN_AGENTS["lead_qualification"].tools == [
        *CRM_TOOLS,
        "sync_lead_to_crm",
        "send_qualification_notification",
        "schedule_qualification_call",
    ]
    assert BUILTIN_AGENTS["web_development"].tools == [
        *CALENDAR_TOOLS,
        *EMAIL_TOOLS,
        "create_project_lead",
        "schedule_technical_consultation",
    ]
    assert BUILTIN_AGENTS["digital_marketing"].tools == [
        "email_send",
        "crm_search_contacts",
        "crm_create_contact",
        "create_marketing_lead",
        "send_marketing_proposal",
        "schedule_strategy_session",
    ]
    assert BUILTIN_AGENTS["driver"].tools == ["delegate"]
    for name in ("chat", "creator", "generator"):
        assert BUILTIN_AGENTS[name].tools == []


def test_the_domain_agents_tools_exist_once_the_integrations_are_loaded() -> None:
    import podium.tools.integrations  # noqa: F401  (registers the integration tools)

    for agent in BUILTIN_AGENTS.values():
        for name in agent.tools:
            if name == "delegate":  # made per run by the agent loop, not registered
                continue
            if name == "search_knowledge":  # the guide's (podium.tools.knowledge)
                assert DEFAULT.get(name) is not None
                continue
            found = DEFAULT.get(name)
            assert found is not None, f"{agent.name} lists {name}, which is not a tool"
            assert "integration" in found.tags


def test_a_definition_is_a_pydantic_model_with_a_schema() -> None:
    schema = AgentDefinition.model_json_schema()
    assert schema["required"] == ["name"]
    assert schema["additionalProperties"] is False


def test_max_turns_over_the_server_cap_is_refused_naming_the_setting() -> None:
    data = {"name": "looper", "max_turns": 1e12}  # a float, as JSON may carry it
    with pytest.raises(LimitTooHigh) as raised:
        parse_definition(data, caps=Caps(max_turns=100))
    assert raised.value.message.startswith(
        "max_turns 1000000000000 is over the server cap of 100 (PODIUM_MAX_TURNS_CAP)"
    )
    assert raised.value.details["setting"] == "PODIUM_MAX_TURNS_CAP"
    assert parse_definition({"name": "looper", "max_turns": 100}, caps=Caps()).max_turns == 100


# --- knowledge ----------------------------------------------------------------------------


def test_the_knowledge_option_defaults_and_round_trips() -> None:
    agent = parse_definition(
        {"name": "docs", "tools": ["search_knowledge"], "knowledge": {"namespaces": ["faq"]}}
    )
    assert agent.knowledge is not None
    assert (agent.knowledge.namespaces, agent.knowledge.k, agent.knowledge.prepend) == (
        ["faq"],
        3,
        False,
    )
    assert agent.to_json()["knowledge"] == {"namespaces": ["faq"], "k": 3, "prepend": False}
    assert parse_definition(agent.to_json()) == agent
    assert "knowledge" not in parse_definition({"name": "plain"}).to_json()


@pytest.mark.parametrize(
    ("knowledge", "problem"),
    [
        (
            {"namespaces": ["_agents"]},
            "knowledge.namespaces: namespace '_agents' is reserved (names starting with '_' "
            "belong to the server's own indexes)",
        ),
        (
            {"namespaces": ["my docs"]},
            "knowledge.namespaces: 'my docs' is not a knowledge namespace name: 1-64 letters, "
            "digits, '_', '.' or '-'",
        ),
        ({"namespaces": ["faq", "faq"]}, "knowledge.namespaces: namespace 'faq' is listed twice"),
        ({"namespaces": []}, "knowledge.namespaces: List should have at least 1 item"),
        ({"namespaces": ["faq"], "k": 0}, "knowledge.k: Input should be greater than or equal"),
        ({"namespaces": ["faq"], "prepend": "yes"}, "knowledge.prepend: Input should be a valid"),
        ({"namespaces": ["faq"], "top": 3}, "knowledge.top: Extra inputs are not permitted"),
    ],
)
def test_a_bad_knowledge_option_is_refused_naming_the_problem(
    knowledge: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_definition({"name": "docs", "knowledge": knowledge})
    assert problem in raised.value.message


def test_search_knowledge_without_knowledge_is_refused_with_the_fix() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_definition({"name": "docs", "tools": ["search_knowledge"]})
    assert raised.value.message == (
        "the agent definition is not valid: agent definition: the agent lists the tool "
        'search_knowledge but names no knowledge to search; add "knowledge": '
        '{"namespaces": ["podium-docs"]} (the namespaces it may search)'
    )


def test_knowledge_k_over_the_server_cap_is_refused_naming_the_setting() -> None:
    data = {"name": "docs", "knowledge": {"namespaces": ["faq"], "k": 50}}
    with pytest.raises(LimitTooHigh) as raised:
        parse_definition(data, caps=Caps(knowledge_k=20))
    assert raised.value.message.startswith(
        "knowledge.k 50 is over the server cap of 20 (PODIUM_AGENT_KNOWLEDGE_K_CAP)"
    )
    assert parse_definition(data, caps=Caps(knowledge_k=50)).knowledge is not None
