"""An agent's definition: what it is told, which model thinks for it, what it may do."""

from __future__ import annotations

import re
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from podium.engine.caps import Caps, over_cap, refuse
from podium.errors import AgentInvalid
from podium.llm.offline import script_problems
from podium.tools.knowledge import namespace_problem

NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
MODEL_PATTERN = r"^[A-Za-z0-9_.-]+/.+$"
SEARCH_KNOWLEDGE = "search_knowledge"


class Capabilities(BaseModel):
    """What the agent is good at: tags to match on and a sentence for people (and drivers)."""

    model_config = ConfigDict(extra="forbid")

    tags: list[str] = Field(default_factory=list, max_length=32)
    description: str = Field(default="", max_length=2000)


class AgentLimits(BaseModel):
    """What the runs the agent works in may spend (docs/budgets.md)."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = Field(
        default=None,
        ge=1,
        description="the run's token cap, checked before each of this agent's LLM calls: "
        "reached, the run waits for a decision (at most PODIUM_MAX_BUDGET_TOKENS)",
    )


class KnowledgeOption(BaseModel):
    """What an agent knows: the knowledge namespaces `search_knowledge` may search, how many
    passages a search gives by default, and whether the loop retrieves passages for the
    user's message before the first model call and puts them in front of it (`prepend`)."""

    model_config = ConfigDict(extra="forbid")

    namespaces: list[str] = Field(min_length=1, max_length=16)
    k: int = Field(
        default=3,
        ge=1,
        description="passages per search (at most PODIUM_AGENT_KNOWLEDGE_K_CAP)",
    )
    prepend: bool = Field(
        default=False,
        strict=True,
        description="retrieve k passages for the user's message before the first model call "
        "and give them to the model (with their citations)",
    )

    @field_validator("namespaces")
    @classmethod
    def _namespaces(cls, namespaces: list[str]) -> list[str]:
        seen: set[str] = set()
        for namespace in namespaces:
            problem = namespace_problem(namespace)
            if problem is not None:
                raise PydanticCustomError("knowledge_namespace", problem)
            if namespace in seen:
                raise PydanticCustomError(
                    "duplicate_namespace",
                    "namespace {name} is listed twice",
                    {"name": repr(namespace)},
                )
            seen.add(namespace)
        return namespaces


class AgentDefinition(BaseModel):
    """A named agent. `tools` is its allow-list: tool names, or `mcp:<server>` for every tool
    of an app's MCP server. `model` is `provider/model`; none means the flow's, the app's
    or the server's default (DESIGN §3.13). `script` holds the turns `offline/script` plays
    (checked when a definition is saved: `parse_definition(caps=...)`). `enabled: false`
    keeps it from running (POST …/disable)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        json_schema_extra={"pattern": NAME_PATTERN},
        description="lower-case letters, digits, _ and -, starting with a letter",
    )
    description: str = Field(default="", max_length=2000)
    instructions: str = Field(default="", max_length=50_000)
    model: str | None = Field(
        default=None, json_schema_extra={"pattern": MODEL_PATTERN}, description="provider/model"
    )
    tools: list[str] = Field(default_factory=list, max_length=128)
    capabilities: Capabilities = Field(default_factory=Capabilities)
    max_turns: int = Field(
        default=8, ge=1, description="model turns before it gives up (at most PODIUM_MAX_TURNS_CAP)"
    )
    temperature: float | None = Field(default=None, ge=0, le=2)
    token_budget: int | None = Field(default=None, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)
    script: list[dict[str, Any]] | None = None
    limits: AgentLimits | None = Field(
        default=None, description='budgets: {"max_tokens": N}, the run\'s token cap'
    )
    knowledge: KnowledgeOption | None = Field(
        default=None,
        description='the knowledge it searches: {"namespaces": [...], "k": 3, "prepend": false}',
    )
    enabled: bool = Field(
        default=True,
        strict=True,
        description="a disabled agent cannot be invoked, chatted with or run in a flow",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not re.fullmatch(NAME_PATTERN, name):
            raise PydanticCustomError(
                "agent_name",
                "{name} is not an agent name: lower-case letters, digits, '_' and '-', "
                "starting with a letter, at most 64 (e.g. 'support_bot')",
                {"name": repr(name)},
            )
        return name

    @field_validator("model")
    @classmethod
    def _model(cls, model: str | None) -> str | None:
        if model is not None and not re.fullmatch(MODEL_PATTERN, model):
            raise PydanticCustomError(
                "model_reference",
                "{model} is not a model reference `provider/model`, e.g. 'ollama/llama3.2', "
                "'openai/gpt-4o-mini' or 'offline/echo'",
                {"model": repr(model)},
            )
        return model

    @field_validator("tools")
    @classmethod
    def _distinct(cls, tools: list[str]) -> list[str]:
        seen: set[str] = set()
        for name in tools:
            if name in seen:
                raise PydanticCustomError(
                    "duplicate_tool", "tool {name} is listed twice", {"name": repr(name)}
                )
            seen.add(name)
        return tools

    @model_validator(mode="after")
    def _knowledge_for_search(self) -> AgentDefinition:
        if SEARCH_KNOWLEDGE in self.tools and self.knowledge is None:
            raise PydanticCustomError(
                "knowledge_missing",
                "the agent lists the tool search_knowledge but names no knowledge to search; "
                'add "knowledge": {"namespaces": ["podium-docs"]} (the namespaces it may search)',
            )
        return self

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude_none=True)
        if data.get("enabled") is True:
            del data["enabled"]  # the default: definitions stored before it stay the same
        return data


def parse_definition(
    data: Any, *, what: str = "agent definition", caps: Caps | None = None
) -> AgentDefinition:
    """Validate `data`; AgentInvalid lists every problem as `field: reason`, LimitTooHigh
    names a limit over its cap (checked when `caps` are given: a definition being saved)."""
    if not isinstance(data, dict):
        raise AgentInvalid(f"the {what} must be a JSON object, got {type(data).__name__}")
    try:
        agent = AgentDefinition.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in error['loc']) or what}: {error['msg']}"
            for error in exc.errors()
        ]
        raise AgentInvalid(
            f"the {what} is not valid: " + "; ".join(problems), details={"problems": problems}
        ) from None
    if caps is not None:
        # Checked on the way in, not when a stored definition is read back: one stored before
        # scripts were checked must not make the app's agents unreadable (the offline model
        # refuses its bad turn when it plays it).
        problems = [f"script: {problem}" for problem in script_problems(agent.script or [])]
        if problems:
            raise AgentInvalid(
                f"the {what} is not valid: " + "; ".join(problems), details={"problems": problems}
            )
        found = [over_cap("max_turns", agent.max_turns, "max_turns", caps)]
        if agent.knowledge is not None:
            found.append(over_cap("knowledge.k", agent.knowledge.k, "knowledge_k", caps))
        if agent.limits is not None:
            found.append(
                over_cap("limits.max_tokens", agent.limits.max_tokens, "budget_tokens", caps)
            )
        refuse([p for p in found if p], hint=f" in the {what}")
    return agent
