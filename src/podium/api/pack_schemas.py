"""Response bodies of packs: what is installed and enabled, and their handlers' state."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class HandlerPublic(BaseModel):
    name: str
    event_types: list[str]


class PackPublic(BaseModel):
    name: str
    description: str
    enabled: bool = Field(description="whether this app enabled the pack")
    flows: list[str]
    agents: list[str]
    handlers: list[HandlerPublic]
    routes: bool = Field(description="the pack has routes under /apps/{app_id}/packs/{name}")
    tables: bool
    workflow_graph: bool

    @classmethod
    def of(cls, data: dict[str, Any]) -> PackPublic:
        return cls.model_validate(data)


class HandlerStatePublic(BaseModel):
    name: str
    event_types: list[str]
    last_seq: int | None = Field(description="the last event of the app's log it is done with")


class HandlerFailurePublic(BaseModel):
    handler: str
    event_seq: int
    event_id: str
    event_type: str
    status: str = Field(description="retrying (another attempt is due) or failed (given up)")
    attempts: int
    error: str
    next_attempt_at: float | None
    updated_at: float


class PackHandlersPublic(BaseModel):
    pack: str
    enabled: bool
    handlers: list[HandlerStatePublic]
    failures: list[HandlerFailurePublic] = Field(description="newest first, at most 200")
