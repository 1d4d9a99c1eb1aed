"""The agents every app has: a general assistant, a driver that delegates, a creator of new
agents, a generator of content and code, three domain agents with integration tools, and a
guide that answers questions about Podium from the shipped `podium-docs` knowledge.

An app may define an agent of the same name to replace one of these. An app disables a
built-in by storing a marker version `{"name", "builtin": true, "enabled": false}` (and
enables it again with another, `"enabled": true`): the marker names the shipped definition
instead of copying it, so a built-in disabled and enabled again is the one this release ships.
"""

from __future__ import annotations

from typing import Any

from podium.agents.definition import (
    AgentDefinition,
    Capabilities,
    KnowledgeOption,
    parse_definition,
)

CRM_TOOLS = ["crm_create_contact", "crm_search_contacts", "crm_create_deal", "crm_list_deals"]
EMAIL_TOOLS = ["email_send"]
CALENDAR_TOOLS = ["calendar_create_event", "calendar_list_events"]
# The seed's per-agent tools (podium.tools.integrations.leads).
WEB_DEVELOPMENT_TOOLS = ["create_project_lead", "schedule_technical_consultation"]
MARKETING_TOOLS = ["create_marketing_lead", "send_marketing_proposal", "schedule_strategy_session"]
QUALIFICATION_TOOLS = [
    "sync_lead_to_crm",
    "send_qualification_notification",
    "schedule_qualification_call",
]

CREATOR_INSTRUCTIONS = """You design new AI agents. You are given a draft agent definition as
JSON, with the role, capabilities and reason it was made from. Improve its description and
instructions for that role and answer with the definition only: one JSON object with the keys
name, description, instructions, capabilities {tags, description}, and optionally model,
tools, max_turns, temperature. No prose, no code fences."""

GUIDE_INSTRUCTIONS = """You answer questions about Podium, the server you run on. First call
search_knowledge with the question. Answer only from the passages it returns, briefly, and
cite every passage you use by its citation, e.g. [podium-docs/durability#0]. When nothing
relevant is found, say so rather than guess."""
# The shipped knowledge the guide answers from (podium.knowledge.samples).
GUIDE_NAMESPACE = "podium-docs"

BUILTIN_AGENTS: dict[str, AgentDefinition] = {
    agent.name: agent
    for agent in [
        AgentDefinition(
            name="chat",
            description="A general assistant for conversation and questions.",
            instructions="You are a helpful, concise assistant.",
            capabilities=Capabilities(
                tags=["conversation", "general", "questions"],
                description="Answers questions and holds a conversation.",
            ),
        ),
        AgentDefinition(
            name="driver",
            description="Breaks a task into sub-tasks and delegates each to the best agent.",
            instructions=(
                "You coordinate other agents. Break the task into sub-tasks; for each, call "
                "`delegate` with the agent whose capabilities fit it best (the agents and "
                "their capabilities are listed in the tool's description) and the sub-task. "
                "Several independent sub-tasks may be delegated at once. When every answer "
                "is back, combine them into one final answer."
            ),
            tools=["delegate"],
            max_turns=12,
            capabilities=Capabilities(
                tags=["planning", "delegation", "orchestration"],
                description="Plans a task and delegates its parts to other agents.",
            ),
        ),
        AgentDefinition(
            name="creator",
            description="Turns a role, capabilities and a reason into a new agent definition.",
            instructions=CREATOR_INSTRUCTIONS,
            max_turns=1,
            capabilities=Capabilities(
                tags=["agents", "design"],
                description="Designs new agents (dynamic agents).",
            ),
        ),
        AgentDefinition(
            name="generator",
            description="Produces content or code from a brief.",
            instructions=(
                "You write what is asked for — copy, documents or code — complete and ready "
                "to use. Put code in fenced blocks with the language named."
            ),
            capabilities=Capabilities(
                tags=["content", "code", "writing"],
                description="Writes content and code.",
            ),
        ),
        AgentDefinition(
            name="recommendations",
            description="Recommends the services or products that fit what the user needs.",
            instructions=(
                "You recommend services and products: from the request and what is known of "
                "the user, name the two or three options that fit best, each with one "
                "sentence on why, and the next step to take."
            ),
            capabilities=Capabilities(
                tags=["recommendations", "services", "sales"],
                description="Matches needs to services and products.",
            ),
        ),
        AgentDefinition(
            name="lead_qualification",
            description="Qualifies sales leads and keeps the CRM up to date.",
            instructions=(
                "You qualify sales leads: ask for or infer budget, authority, need and "
                "timeline, score the lead from 0 to 100 (hot, warm or cold), record it in the "
                "CRM (sync_lead_to_crm), notify the sales team and propose a qualification "
                "call with your tools. If a tool reports it was skipped, say which "
                "integration is not connected and go on."
            ),
            tools=CRM_TOOLS + QUALIFICATION_TOOLS,
            capabilities=Capabilities(
                tags=["sales", "leads", "crm", "qualification"],
                description="Scores leads and records them in the CRM (HubSpot).",
            ),
        ),
        AgentDefinition(
            name="web_development",
            description="Plans and builds websites and web apps with the client.",
            instructions=(
                "You are a web developer: clarify requirements, propose a structure and "
                "stack, write the code asked for, and schedule reviews with the client "
                "(calendar) and send summaries (e-mail) with your tools."
            ),
            tools=CALENDAR_TOOLS + EMAIL_TOOLS + WEB_DEVELOPMENT_TOOLS,
            capabilities=Capabilities(
                tags=["web", "development", "code", "websites"],
                description="Builds websites and web apps; schedules reviews.",
            ),
        ),
        AgentDefinition(
            name="digital_marketing",
            description="Plans campaigns and reaches contacts by e-mail.",
            instructions=(
                "You are a digital marketer: plan campaigns, write copy, find the right "
                "contacts in the CRM and send e-mails with your tools. If a tool reports it "
                "was skipped, say which integration is missing and go on."
            ),
            tools=[*EMAIL_TOOLS, "crm_search_contacts", "crm_create_contact", *MARKETING_TOOLS],
            capabilities=Capabilities(
                tags=["marketing", "campaigns", "email", "seo"],
                description="Plans campaigns and sends e-mail (SendGrid, HubSpot contacts).",
            ),
        ),
        AgentDefinition(
            name="guide",
            description="Answers questions about Podium from its documentation, with citations.",
            instructions=GUIDE_INSTRUCTIONS,
            tools=["search_knowledge"],
            knowledge=KnowledgeOption(namespaces=[GUIDE_NAMESPACE], k=3),
            capabilities=Capabilities(
                tags=["podium", "documentation", "help", "questions"],
                description="Explains Podium, citing the podium-docs knowledge it answers from.",
            ),
        ),
    ]
}


def builtin_marker(name: str, *, enabled: bool) -> dict[str, Any]:
    """The stored version that turns the built-in agent `name` off (or on again)."""
    return {"name": name, "builtin": True, "enabled": enabled}


def is_builtin_marker(data: dict[str, Any]) -> bool:
    return data.get("builtin") is True and data.get("name") in BUILTIN_AGENTS


def stored_definition(data: dict[str, Any]) -> AgentDefinition:
    """The agent a stored version stands for: a built-in's marker is the shipped definition
    with the marker's `enabled`; anything else is an app's own definition."""
    if is_builtin_marker(data):
        builtin = BUILTIN_AGENTS[data["name"]]
        return builtin.model_copy(update={"enabled": data.get("enabled") is not False})
    return parse_definition(data)
