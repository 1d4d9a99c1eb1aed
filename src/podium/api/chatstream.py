"""A chat turn as a stream of events: subscribe first, then queue the message, so that no
token (`message.delta`, live only) is missed; the stream ends when the run answers, waits
for a person, or ends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from podium.api.deps import Services
from podium.events import names
from podium.events.envelope import Event
from podium.live.bus import Subscription

# The events a chat client is shown; the rest of the run's (node.*) are left out.
CHAT_EVENTS = frozenset(
    {
        names.MESSAGE_DELTA,
        names.MESSAGE_CREATED,
        names.AGENT_STATUS,
        names.TOOL_CALLED,
        names.NODE_INTERRUPTED,
        *names.RUN_ENDED.values(),
    }
)


async def start_chat_turn(
    services: Services,
    app_id: str,
    agent: str,
    message: str,
    *,
    session_id: str | None,
    user_id: str | None,
    model: str | None = None,
) -> tuple[str, str, AsyncIterator[Event]]:
    """Queue the message; returns (session id, run id, the turn's events)."""
    since = await services.agents.last_seq(app_id)
    subscription = services.podium.subscribe(app_id, since)
    try:
        session, run = await services.agents.send(
            app_id, agent, message, session_id=session_id, user_id=user_id, model=model
        )
    except BaseException:
        await subscription.aclose()
        raise
    return session, run, _turn_events(subscription, run)


async def _turn_events(subscription: Subscription, run_id: str) -> AsyncIterator[Event]:
    try:
        async for event in subscription:
            if event.run_id != run_id or event.type not in CHAT_EVENTS:
                continue
            yield event
            if event.type in names.RUN_OUTCOMES:
                return
    finally:
        await subscription.aclose()


async def sse_turn(
    session_id: str, run_id: str, events: AsyncIterator[Event]
) -> AsyncIterator[dict[str, Any]]:
    """The turn as SSE messages: `chat.started`, the events by type, then `done`."""
    yield {
        "event": "chat.started",
        "data": json.dumps({"session_id": session_id, "run_id": run_id}),
    }
    status = None
    try:
        async for event in events:
            message: dict[str, Any] = {"event": event.type, "data": json.dumps(event.to_json())}
            if event.seq is not None:
                message["id"] = str(event.seq)
            yield message
            if event.type in names.RUN_OUTCOMES:
                status = event.type.removeprefix("run.")
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
    yield {
        "event": "done",
        "data": json.dumps({"session_id": session_id, "run_id": run_id, "status": status}),
    }
