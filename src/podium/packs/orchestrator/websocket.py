"""The orchestrator over the WebSocket (`/api/v1/ws`):

- `orchestrator.chat` `{app_id, prompt, max_results?}` and `orchestrator.continue`
  `{app_id, thread_id, response}` (members) answer `orchestrator.accepted` `{thread_id,
  run_id, subscription_id}` at once;
- then, with that `subscription_id`, each stage's event as a message of its own type
  (`orchestrator.parsed`, `orchestrator.ranked`, `orchestrator.planned`,
  `orchestrator.batch.completed`, …: the event envelope in `data`), and last
  `orchestrator.result`: the body `POST …/orchestrator/chat` answers (`completed`,
  `pending_user_input` with `question_for_user`, or `error`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from podium.errors import InvalidInput
from podium.events import names
from podium.events.envelope import Event
from podium.packs.base import PackSocketRequest
from podium.packs.orchestrator.service import DEFAULT_MAX_RESULTS, Orchestrator


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise InvalidInput(f"{key} is required (a string)")
    return value


async def chat(request: PackSocketRequest) -> tuple[str, Any]:
    """`orchestrator.chat`: start a thread and stream it."""
    services = request.services
    await services.tenancy.require(request.principal, request.app_id, "member")
    max_results = request.data.get("max_results", DEFAULT_MAX_RESULTS)
    if not isinstance(max_results, int) or isinstance(max_results, bool):
        raise InvalidInput("max_results is a whole number")
    since = await services.agents.last_seq(request.app_id)
    subscription = services.podium.subscribe(request.app_id, since)
    orchestrator = Orchestrator(services.sessions)
    try:
        view = await orchestrator.start(
            request.app_id, _text(request.data, "prompt"), max_results, request.principal.user_id
        )
    except BaseException:
        await subscription.aclose()
        raise
    assert view.run is not None
    return _stream(request, orchestrator, view.session.id, view.run.id, subscription)


async def continue_thread(request: PackSocketRequest) -> tuple[str, Any]:
    """`orchestrator.continue`: answer the thread's question and stream it again."""
    services = request.services
    await services.tenancy.require(request.principal, request.app_id, "member")
    thread_id = _text(request.data, "thread_id")
    since = await services.agents.last_seq(request.app_id)
    subscription = services.podium.subscribe(request.app_id, since, session_id=thread_id)
    orchestrator = Orchestrator(services.sessions)
    try:
        run_id = await orchestrator.answer_question(
            request.app_id, thread_id, _text(request.data, "response")
        )
    except BaseException:
        await subscription.aclose()
        raise
    return _stream(request, orchestrator, thread_id, run_id, subscription)


def _stream(
    request: PackSocketRequest,
    orchestrator: Orchestrator,
    thread_id: str,
    run_id: str,
    subscription: AsyncIterator[Event],
) -> tuple[str, Any]:
    async def forward(subscription_id: str) -> None:
        try:
            async for event in subscription:
                if event.session_id != thread_id:
                    continue
                if event.type.startswith("orchestrator."):
                    await request.send(event.type, event.to_json(), subscription_id=subscription_id)
                elif event.run_id == run_id and event.type in names.RUN_OUTCOMES:
                    break
        finally:
            aclose = getattr(subscription, "aclose", None)
            if aclose is not None:
                await aclose()
        result = await orchestrator.status(request.app_id, thread_id)
        await request.send("orchestrator.result", result, subscription_id=subscription_id)

    subscription_id = request.start_stream(forward)
    return "orchestrator.accepted", {
        "thread_id": thread_id,
        "run_id": run_id,
        "subscription_id": subscription_id,
    }
