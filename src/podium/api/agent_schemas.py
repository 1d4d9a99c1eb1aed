"""Request and response bodies of agents, chat, providers, integrations, MCP servers and
the tool-call log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from podium.agents.service import AgentView, ChatTurn
from podium.api.schemas import DISPLAY_NAME_PATTERN, TEXT_PATTERN, Body
from podium.storage.agents import MCPServerRecord, ProviderRecord, ToolCallRecord

Capability = Annotated[str, Field(min_length=1, max_length=200, pattern=DISPLAY_NAME_PATTERN)]
ModelRef = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+/.+$", max_length=200)


class AgentPublic(BaseModel):
    name: str
    description: str
    source: Literal["builtin", "app"]
    version: int | None
    status: Literal["idle", "busy"]
    enabled: bool
    active_runs: list[str]
    definition: dict[str, Any]
    created_at: float | None

    @classmethod
    def of(cls, view: AgentView) -> AgentPublic:
        return cls(
            name=view.definition.name,
            description=view.definition.description,
            source=view.source,  # type: ignore[arg-type]
            version=view.version,
            status=view.status,  # type: ignore[arg-type]
            enabled=view.definition.enabled,
            active_runs=view.active_runs,
            definition=view.definition.to_json(),
            created_at=view.created_at,
        )


class AgentHistoryItem(BaseModel):
    """One message of an agent's history: a persisted event, `message.created` (its
    transcript: `data.role`, `data.content`) or `agent.message` (`data.from`, `data.to`,
    `data.type`, `data.content`)."""

    seq: int
    id: str
    type: str
    session_id: str | None
    run_id: str | None
    ts: float
    data: dict[str, Any]


class AgentHistoryPage(BaseModel):
    """Newest first; `next_cursor` gives the older page (none when this is the oldest)."""

    items: list[AgentHistoryItem]
    next_cursor: str | None


class AgentGenerate(Body):
    role: str = Field(
        min_length=1, max_length=200, pattern=DISPLAY_NAME_PATTERN, examples=["Travel planner"]
    )
    capabilities: list[Capability] = Field(default_factory=list, max_length=32)
    reason: str = Field(default="", max_length=2000, pattern=TEXT_PATTERN)
    model: str | None = ModelRef


class AgentInvoke(Body):
    task: str = Field(min_length=1, max_length=100_000)
    stream: bool = Field(default=False, strict=True, description="answer as Server-Sent Events")
    model: str | None = ModelRef


class ChatMessageCreate(Body):
    session_id: str | None = Field(default=None, max_length=80)
    agent: str = Field(default="chat", min_length=1, max_length=64)
    message: str = Field(min_length=1, max_length=100_000)
    model: str | None = ModelRef


class QuestionPublic(BaseModel):
    id: str
    question: str
    choices: list[str] | None


class ChatTurnPublic(BaseModel):
    """`status` is the run's: `succeeded` (with `answer`), `interrupted` (a `question`
    waits: answer it under /sessions), `failed` (`error`), or `queued`/`running` when the
    wait ended first (follow the run)."""

    session_id: str
    run_id: str
    status: str
    answer: str | None
    error: str | None
    question: QuestionPublic | None

    @classmethod
    def of(cls, turn: ChatTurn) -> ChatTurnPublic:
        return cls(
            session_id=turn.session_id,
            run_id=turn.run_id,
            status=turn.status,
            answer=turn.answer,
            error=turn.error,
            question=QuestionPublic(**turn.question) if turn.question else None,
        )


class ProviderPut(Body):
    kind: Literal["openai", "anthropic", "ollama"]
    base_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    api_key: str | None = Field(
        default=None,
        max_length=4096,
        description="stored encrypted, never returned; left out, an update keeps the old one",
    )
    timeout_seconds: float | None = Field(default=None, gt=0, le=3600)
    max_retries: int | None = Field(default=None, ge=0, le=10)


class ProviderPublic(BaseModel):
    name: str
    kind: str
    base_url: str | None
    has_api_key: bool
    options: dict[str, Any]
    created_at: float
    updated_at: float

    @classmethod
    def of(cls, record: ProviderRecord) -> ProviderPublic:
        return cls(
            name=record.name,
            kind=record.kind,
            base_url=record.base_url,
            has_api_key=record.api_key_encrypted is not None,
            options=record.options,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


class IntegrationPublic(BaseModel):
    service: str
    configured: bool
    source: Literal["app", "server"] | None


class MCPServerPut(Body):
    """An app's own MCP server: streamable HTTP (`transport: http` and a `url`). `stdio` is
    refused (422): stdio servers come from the operator, enabled per app by a platform admin
    (`PUT /apps/{app_id}/mcp-servers/{name}/stdio`)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    transport: Literal["stdio", "http"]
    command: str | None = Field(default=None, max_length=2000)
    args: list[str] = Field(default_factory=list, max_length=64)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = Field(default=None, max_length=2000)
    url: str | None = Field(default=None, max_length=2000)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)


class MCPStdioEnable(Body):
    """A platform admin lets an app use one of the operator's stdio MCP servers."""

    server: str = Field(
        pattern=r"^[a-z][a-z0-9_-]{0,31}$",
        description="the server's name in PODIUM_MCP_STDIO_SERVERS_FILE",
        examples=["files"],
    )
    timeout_seconds: float | None = Field(default=None, gt=0, le=600)


class MCPServerPublic(BaseModel):
    name: str
    transport: str
    config: dict[str, Any]
    created_at: float

    @classmethod
    def of(cls, record: MCPServerRecord) -> MCPServerPublic:
        config = dict(record.config)
        # Environment values and headers may hold secrets: their names only.
        if isinstance(config.get("env"), dict | list):
            config["env"] = sorted(_keys(config["env"]))
        if isinstance(config.get("headers"), dict | list):
            config["headers"] = sorted(_keys(config["headers"]))
        return cls(
            name=record.name,
            transport=str(config.get("transport")),
            config=config,
            created_at=record.created_at,
        )


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [str(k) for k in value]
    return [str(item[0]) for item in value if isinstance(item, list | tuple) and item]


class ToolCallPublic(BaseModel):
    id: str
    session_id: str | None
    run_id: str | None
    node_id: str | None
    agent: str | None
    tool: str
    arguments: Any
    result: Any
    error: str | None
    status: Literal["ok", "error", "skipped"]
    duration_ms: float
    created_at: float

    @classmethod
    def of(cls, record: ToolCallRecord) -> ToolCallPublic:
        return cls(
            id=record.id,
            session_id=record.session_id,
            run_id=record.run_id,
            node_id=record.node_id,
            agent=record.agent,
            tool=record.tool,
            arguments=record.arguments,
            result=record.result,
            error=record.error,
            status=record.status,  # type: ignore[arg-type]
            duration_ms=record.duration_ms,
            created_at=record.created_at,
        )


class ToolCallPage(BaseModel):
    items: list[ToolCallPublic]
    next_cursor: str | None


class AgentSearchHit(BaseModel):
    agent: str
    description: str
    score: float = Field(description="the directory's relevance score, higher is better")
    matched: list[str] = Field(description="the query's words the agent's entry holds")
    reasons: str
    tags: list[str]
    source: str = Field(description="builtin, app, or pack:<name>")


class AgentSearchPublic(BaseModel):
    query: str
    mode: Literal["text", "hybrid"]
    note: str | None
    results: list[AgentSearchHit]
