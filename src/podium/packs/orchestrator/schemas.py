"""The orchestrator's request and response bodies (the seed's shapes)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from podium.packs.orchestrator.service import (
    DEFAULT_MAX_RESULTS,
    MAX_PROMPT_CHARS,
    MAX_RESPONSE_CHARS,
)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(max_length=MAX_PROMPT_CHARS, description="what the user asks for")
    max_results: int = Field(
        default=DEFAULT_MAX_RESULTS,
        description="candidate agents kept per task (1 to PODIUM_ORCHESTRATOR_MAX_RESULTS)",
    )


class ContinueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thread_id: str = Field(max_length=80, description="the thread_id of POST …/chat")
    response: str = Field(
        max_length=MAX_RESPONSE_CHARS, description="the answer to question_for_user"
    )


class TaskAgentPair(BaseModel):
    model_config = ConfigDict(extra="allow")

    task_id: str
    task: str
    agent: str
    score: float
    matched: list[str]
    reasons: str
    alternatives: list[str]
    depends_on: list[str]
    batch: int | None = None
    status: str | None = None
    answer: str | None = None
    error: str | None = None


class ThreadPublic(BaseModel):
    thread_id: str
    status: Literal["completed", "pending_user_input", "error", "running", "paused"]
    final_response: str | None
    question_for_user: str | None
    requires_user_input: bool
    task_agent_pairs: list[TaskAgentPair]
    batches: list[list[str]] = Field(description="the plan: task ids, a batch after another")
    error_message: str | None
    run_id: str | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> ThreadPublic:
        return cls.model_validate(data)
