"""`/apps/{app_id}/events`: the durable event log as JSON pages or Server-Sent Events.

An SSE client that reconnects sends `Last-Event-ID` (the `seq` of the last event it saw) and
gets every event after it from the log, then the live stream: nothing lost, nothing twice.

A stream lasts only while its caller may read the app: its `StreamGuard` re-checks the
credential and the membership every PODIUM_STREAM_RECHECK_SECONDS (and at once on a
revocation in this process); when they are gone it sends one `error` event (the envelope of
DESIGN §6, code `forbidden`) and ends the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse

from podium.api.deps import AppViewer, ServicesDep
from podium.api.errors import ErrorEnvelope
from podium.api.schemas import EventPage, EventPublic
from podium.auth.streams import StreamGuard
from podium.errors import InvalidInput
from podium.live.bus import Subscription

router = APIRouter(prefix="/apps/{app_id}/events", tags=["events"])
MAX_SEQ = 2**63 - 1  # a seq is a BIGINT: anything above it is no position in the log


@router.get(
    "",
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        410: {"model": ErrorEnvelope, "description": "events after `since` were pruned"},
    },
)
async def events(
    request: Request,
    access: AppViewer,
    services: ServicesDep,
    since: Annotated[int, Query(ge=0, le=MAX_SEQ, description="the last seq already seen")] = 0,
    session_id: Annotated[str | None, Query(max_length=80)] = None,
    run_id: Annotated[str | None, Query(max_length=80)] = None,
    artifact_id: Annotated[
        str | None, Query(max_length=80, description="events whose data.artifact_id is it")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    last_event_id: Annotated[str | None, Header(max_length=40)] = None,
) -> Any:
    """A page of events after `since`, or a live stream with `Accept: text/event-stream`."""
    if last_event_id:
        try:
            resumed = int(last_event_id)
        except ValueError:
            resumed = -1
        if not 0 <= resumed <= MAX_SEQ:
            raise InvalidInput("Last-Event-ID is the seq (a number) of the last event")
        since = max(since, resumed)
    # A `since` older than the oldest event kept would silently miss the pruned ones.
    await services.retention.check_since(access.app_id, since)
    if "text/event-stream" in request.headers.get("accept", ""):
        stream = services.podium.subscribe(
            access.app_id, since, session_id=session_id, run_id=run_id, artifact_id=artifact_id
        )
        guard = StreamGuard(
            services.tenancy, access.principal, services.settings.stream_recheck_seconds
        )
        guard.reads["sse"] = (access.app_id, "viewer")
        return EventSourceResponse(_sse(stream, guard), ping=15, send_timeout=30)
    page = await services.podium.store.read_events(
        access.app_id,
        after=since,
        limit=limit,
        session_id=session_id,
        run_id=run_id,
        artifact_id=artifact_id,
    )
    last = page[-1].seq if page and page[-1].seq is not None else since
    return EventPage(items=[EventPublic(**e.to_json()) for e in page], next_since=last)


async def _sse(stream: Subscription, guard: StreamGuard) -> AsyncIterator[dict[str, Any]]:
    """The stream's events while its guard holds; then one `error` event, and the end.

    The guard watches beside the stream and ends it when the caller loses access, so that
    each event goes straight from the subscription to the client (no task per event)."""
    withdrawn = asyncio.ensure_future(guard.watch())
    withdrawn.add_done_callback(lambda _: stream.end())
    try:
        async for event in stream:
            if withdrawn.done():
                break
            message: dict[str, Any] = {"event": event.type, "data": json.dumps(event.to_json())}
            if event.seq is not None:  # live-only events carry no id: a resume skips them
                message["id"] = str(event.seq)
            yield message
        if withdrawn.done() and not withdrawn.cancelled():
            error = {"code": "forbidden", "message": withdrawn.result(), "details": {}}
            yield {"event": "error", "data": json.dumps({"error": error})}
    finally:
        if not withdrawn.done():
            withdrawn.cancel()
            with contextlib.suppress(BaseException):
                await withdrawn
        await stream.aclose()
