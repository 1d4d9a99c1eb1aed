"""`/apps/{app_id}/chat`: talk to an agent. A chat is a session; each message is a run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sse_starlette import EventSourceResponse

from podium.api.agent_schemas import ChatMessageCreate, ChatTurnPublic
from podium.api.chatstream import sse_turn, start_chat_turn
from podium.api.deps import AppMember, AppViewer, ServicesDep
from podium.api.routes.agents import SSE_RESPONSE
from podium.api.schemas import EventPublic

router = APIRouter(prefix="/apps/{app_id}/chat", tags=["chat"])


@router.post("/messages")
async def send_message(
    body: ChatMessageCreate, access: AppMember, services: ServicesDep
) -> ChatTurnPublic:
    """Send a message (a new chat when `session_id` is left out) and get the answer."""
    session_id, run_id = await services.agents.send(
        access.app_id,
        body.agent,
        body.message,
        session_id=body.session_id,
        user_id=access.principal.user_id,
        model=body.model,
    )
    return ChatTurnPublic.of(await services.agents.turn(access.app_id, session_id, run_id))


@router.post("/stream", responses=SSE_RESPONSE)
async def stream_message(
    body: ChatMessageCreate, access: AppMember, services: ServicesDep
) -> EventSourceResponse:
    """Send a message; the answer streams as Server-Sent Events: `chat.started`
    `{session_id, run_id}`, `message.delta` (tokens), `tool.called`, `agent.status`,
    `message.created`, the run's end, then `done`."""
    session_id, run_id, events = await start_chat_turn(
        services,
        access.app_id,
        body.agent,
        body.message,
        session_id=body.session_id,
        user_id=access.principal.user_id,
        model=body.model,
    )
    return EventSourceResponse(sse_turn(session_id, run_id, events), ping=15)


@router.get("/{session_id}/history")
async def get_history(
    session_id: str,
    access: AppViewer,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EventPublic]:
    """The last `limit` messages of the chat (since it was last cleared), oldest first."""
    events = await services.agents.history(access.app_id, session_id, limit)
    return [EventPublic(**e.to_json()) for e in events]


@router.delete("/{session_id}/history", status_code=204)
async def clear_history(session_id: str, access: AppMember, services: ServicesDep) -> Response:
    """Start the conversation afresh: the agent forgets it and the history reads empty
    (the event log, the audit trail, keeps it)."""
    await services.agents.clear_history(access.app_id, session_id)
    return Response(status_code=204)
