"""Request and response bodies of shared memory and agent messages."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from podium.agents.messages import AGENT_PATTERN
from podium.api.schemas import Body
from podium.memory.service import MAX_TTL_SECONDS, MemoryEntry
from podium.storage.agent_messages import AgentMessageRecord

MemoryScope = Literal["session", "run", "app", "user"]
MessageType = Literal["request", "response", "notification", "handoff"]


class MemoryPut(Body):
    value: Any = Field(description="any JSON value (at most 64 KiB as JSON)")
    ttl_seconds: float | None = Field(
        default=None,
        gt=0,
        le=MAX_TTL_SECONDS,
        description="the entry expires this many seconds from now; leave out: never",
    )


class MemoryEntryPublic(BaseModel):
    scope: MemoryScope
    scope_id: str = Field(description="the session's, run's, app's or user's id")
    key: str
    value: Any
    expires_at: float | None
    updated_at: float

    @classmethod
    def of(cls, entry: MemoryEntry) -> MemoryEntryPublic:
        return cls.model_validate(entry.to_json())


class MemoryPage(BaseModel):
    items: list[MemoryEntryPublic]
    next_cursor: str | None


class MemorySearchHit(MemoryEntryPublic):
    score: float = Field(description="higher is better (full-text rank)")
    matched: list[str] = Field(description="the query's words the entry holds")


class MemorySearchResult(BaseModel):
    """Entries ranked by `q` (full text over each entry's key and value)."""

    query: str
    mode: Literal["text"]
    items: list[MemorySearchHit]


class AgentMessageCreate(Body):
    to: str = Field(pattern=AGENT_PATTERN, examples=["planner"])
    type: MessageType
    content: Any = Field(default=None, description="any JSON value (at most 64 KiB as JSON)")
    sender: str | None = Field(
        default=None, alias="from", pattern=AGENT_PATTERN, description="the sending agent"
    )


class AgentMessagePublic(BaseModel):
    id: str
    run_id: str
    session_id: str | None
    sender: str | None = Field(alias="from")
    to: str
    type: MessageType
    content: Any
    created_at: float

    @classmethod
    def of(cls, record: AgentMessageRecord) -> AgentMessagePublic:
        return cls.model_validate(record.to_json())


class AgentMessagePage(BaseModel):
    items: list[AgentMessagePublic]
    next_cursor: str | None
