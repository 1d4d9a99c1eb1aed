"""`/apps/{app_id}/runs/{run_id}/messages`: the messages agents of a run send each other
(`request`, `response`, `notification`, `handoff`). Viewers read, members send."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from podium.api.deps import AppMember, AppViewer, ServicesDep
from podium.api.memory_schemas import (
    AgentMessageCreate,
    AgentMessagePage,
    AgentMessagePublic,
    MessageType,
)

router = APIRouter(prefix="/apps/{app_id}/runs/{run_id}/messages", tags=["agent messages"])


@router.post("", status_code=201)
async def send_agent_message(
    run_id: str, body: AgentMessageCreate, access: AppMember, services: ServicesDep
) -> AgentMessagePublic:
    """Store a message of the run and stream it as an `agent.message` event."""
    record = await services.agent_messages.send(
        access.app_id, run_id, body.to, body.type, body.content, sender=body.sender
    )
    return AgentMessagePublic.of(record)


@router.get("")
async def list_agent_messages(
    run_id: str,
    access: AppViewer,
    services: ServicesDep,
    agent: Annotated[
        str | None, Query(max_length=64, description="only messages from or to this agent")
    ] = None,
    type: MessageType | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=80)] = None,
) -> AgentMessagePage:
    """The run's messages, oldest first, a page at a time."""
    records = await services.agent_messages.messages(
        access.app_id, run_id, agent=agent, type=type, limit=limit, cursor=cursor
    )
    next_cursor = records[-1].id if len(records) == limit else None
    return AgentMessagePage(
        items=[AgentMessagePublic.of(r) for r in records], next_cursor=next_cursor
    )
