"""`/apps/{app_id}/sessions`: start flows, read state and questions, answer, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from podium.api.deps import AppMember, AppViewer, ServicesDep
from podium.api.schemas import (
    AnswerRequest,
    EventPublic,
    RunCreate,
    RunQueued,
    SessionCreate,
    SessionPage,
    SessionPublic,
    SessionStatus,
    StepPublic,
    run_flags,
)
from podium.errors import InvalidInput

router = APIRouter(prefix="/apps/{app_id}/sessions", tags=["sessions"])


@router.post("", status_code=201)
async def create_session(
    body: SessionCreate,
    access: AppMember,
    services: ServicesDep,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=300,
            description="seconds to wait for the first run to end, wait for an answer or "
            "pause before answering (0: answer at once, with the run queued)",
        ),
    ] = 0.0,
) -> SessionPublic:
    """Create a session of a flow and queue its first run; with `wait`, answer with the
    session once that run has ended or waits (one request to run a flow to its end)."""
    user_id = access.principal.user_id
    if body.user_id is not None:
        if access.principal.kind == "user":
            raise InvalidInput("user_id is for API keys; a user's session is always their own")
        user_id = body.user_id
    view = await services.sessions.create_session(
        access.app_id,
        body.flow,
        body.input,
        metadata=body.metadata,
        user_id=user_id,
        options=run_flags(body.include_outputs, body.pending_statuses),
        wait=wait,
    )
    return SessionPublic.of(view)


@router.get("")
async def list_sessions(
    access: AppViewer,
    services: ServicesDep,
    flow: Annotated[str | None, Query(max_length=200)] = None,
    status: SessionStatus | None = None,
    user_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> SessionPage:
    """The app's sessions, newest first, a page at a time."""
    page = await services.sessions.list_sessions(
        access.app_id, flow=flow, status=status, user_id=user_id, limit=limit, cursor=cursor
    )
    return SessionPage(
        items=[SessionPublic.of(v) for v in page.items], next_cursor=page.next_cursor
    )


@router.get("/{session_id}")
async def get_session(session_id: str, access: AppViewer, services: ServicesDep) -> SessionPublic:
    """Status, state, the latest run and the pending question (or null)."""
    return SessionPublic.of(await services.sessions.get_session(access.app_id, session_id))


@router.get("/{session_id}/messages")
async def get_messages(
    session_id: str,
    access: AppViewer,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[EventPublic]:
    """The transcript: the session's `message.created` events, oldest first."""
    events = await services.sessions.messages(access.app_id, session_id, limit)
    return [EventPublic(**e.to_json()) for e in events]


@router.get("/{session_id}/history")
async def get_history(
    session_id: str, access: AppViewer, services: ServicesDep
) -> list[StepPublic]:
    """Every step of every run of the session, with its output."""
    steps = await services.sessions.history(access.app_id, session_id)
    return [StepPublic.of(s) for s in steps]


@router.post("/{session_id}/runs", status_code=202)
async def start_run(
    session_id: str, body: RunCreate, access: AppMember, services: ServicesDep
) -> RunQueued:
    """Another run on the session; `multitask_strategy` says what happens to an active one."""
    run_id = await services.sessions.start_run(
        access.app_id,
        session_id,
        body.input,
        strategy=body.multitask_strategy,
        trigger_node_id=body.trigger_node_id,
        cached_outputs=body.cached_outputs,
        from_run_id=body.from_run_id,
        options=body.options(),
    )
    return RunQueued(run_id=run_id, session_id=session_id, status="queued")


@router.post("/{session_id}/input", status_code=202)
async def answer(
    session_id: str, body: AnswerRequest, access: AppMember, services: ServicesDep
) -> RunQueued:
    """Answer the pending question; a question is answered once (a second answer is 409)."""
    run_id = await services.sessions.answer(
        access.app_id, session_id, body.interrupt_id, body.answer
    )
    return RunQueued(run_id=run_id, session_id=session_id, status="queued")


@router.post("/{session_id}/cancel")
async def cancel_session(
    session_id: str, access: AppMember, services: ServicesDep
) -> SessionPublic:
    """Cancel the session's active runs."""
    await services.sessions.cancel_session(access.app_id, session_id)
    return SessionPublic.of(await services.sessions.get_session(access.app_id, session_id))


@router.post("/{session_id}/complete")
async def complete_session(
    session_id: str, access: AppMember, services: ServicesDep
) -> SessionPublic:
    """Mark the session completed (409 while a run of it is active)."""
    await services.sessions.complete_session(access.app_id, session_id)
    return SessionPublic.of(await services.sessions.get_session(access.app_id, session_id))
