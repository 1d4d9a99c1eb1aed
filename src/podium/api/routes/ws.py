"""`/ws`: the WebSocket of DESIGN §5 — `{type, data}` envelopes both ways.

Client → server: `auth` (when the token was not in the query), `ping`, `subscribe`
`{app_id, session_id?, run_id?, artifact_id?, since?}`, `unsubscribe` `{subscription_id}`,
`execution.start` (the editor protocol, `podium.api.execution`: a stored flow, an inline graph
or a session, and the run's model and re-execution; the socket follows the run as
`execution.*` messages), `execution.subscribe` `{app_id, run_id, since?}`, `session.input`
`{app_id, session_id, interrupt_id, answer}`, `artifact.action` `{app_id, artifact_id,
action, payload?}`, `workflow.subscribe` `{app_id, run_id}`, `chat.send`, `agent.status`
`{app_id, agent?}`, and the types installed packs answer (`<pack>.<action>`, e.g.
`orchestrator.chat`; the app must have enabled the pack). A message may carry an `id`; the
reply to it carries the same `id`.

Server → client: `connection.ready`, `pong`, `subscribed`, `unsubscribed`, `event` (one
event envelope in `data`, with the `subscription_id`), `execution.started` and the run it
follows (`execution.node.status`, `execution.node.completed`, `execution.node.failed`,
`execution.status`, `execution.completed`, `execution.failed`, `execution.cancelled`,
`execution.event`; docs/api.md), `execution.subscribed`,
`session.input.accepted`, `artifact.action.accepted`, `agent.statuses` (the answer to
`agent.status`: `{app_id, agents: [{name, status, enabled, active_runs}]}`, every agent of
the app or the one named), `workflow.visualization` (a
workflow's nodes and edges with their statuses, sent at once and whenever one changes, with
the `subscription_id`), `error` `{code, message, details}`.

Close codes: 4001 no valid credential (or it expired), 4003 origin not allowed or access
withdrawn while open (the API key revoked, the user deleted, the login logged out, the member
removed from an app the socket reads; the reason says which), 1009 a message over the size
limit, 1008 too many messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import APIRouter, WebSocket
from limits import parse
from limits.strategies import MovingWindowRateLimiter
from starlette.websockets import WebSocketDisconnect, WebSocketState

from podium import jsonvalue
from podium.api import execution
from podium.api.chatstream import start_chat_turn
from podium.api.deps import Services
from podium.api.ratelimit import Counters
from podium.api.workflow_schemas import WorkflowVisualization
from podium.auth.streams import StreamGuard
from podium.auth.tenancy import Principal
from podium.errors import InvalidInput, JSONValueInvalid, NotFound, PodiumError, Unauthorized
from podium.events import names
from podium.events.envelope import Event
from podium.packs.base import PackSocketRequest, SocketHandler

router = APIRouter(tags=["live"])

CLOSE_UNAUTHORIZED = 4001
CLOSE_ORIGIN = 4003
CLOSE_WITHDRAWN = 4003  # forbidden from now on: the credential or the membership was revoked
CLOSE_TOO_BIG = 1009
CLOSE_POLICY = 1008
AUTH_TIMEOUT_SECONDS = 10.0
# The message types (besides ping, auth and unsubscribe) that name the app they act on.
APP_MESSAGES = frozenset(
    {
        "subscribe",
        "workflow.subscribe",
        "execution.start",
        "execution.subscribe",
        "session.input",
        "artifact.action",
        "agent.status",
        "chat.send",
    }
)


def origin_allowed(origin: str | None, allowed: list[str], host: str | None = None) -> bool:
    """No Origin (not a browser) is allowed; a browser's must be listed (or `*` listed), or
    be the server's own (`host`, the Host header): a page the server served, the console."""
    if origin is None:
        return True
    origin = origin.rstrip("/")
    if host and origin.lower() in (f"http://{host}".lower(), f"https://{host}".lower()):
        return True
    return "*" in allowed or origin in allowed


class Connection:
    """One client's socket: its principal, its subscriptions, its limits."""

    def __init__(self, websocket: WebSocket, services: Services) -> None:
        self.ws = websocket
        self.services = services
        self.settings = services.settings
        self.principal: Principal | None = None
        self.guard: StreamGuard | None = None
        self.subscriptions: dict[str, asyncio.Task[None]] = {}
        self._send_lock = asyncio.Lock()
        self._limit = parse(self.settings.ws_rate_limit)
        self._limiter = MovingWindowRateLimiter(Counters())
        self._next_subscription = 0
        # Relays that wait for the reply to the message that started them to be sent first.
        self._after_reply: list[asyncio.Event] = []
        self.closed = False
        # The message types installed packs answer: type → (pack, handler).
        self.pack_types: dict[str, tuple[str, SocketHandler]] = {
            kind: (pack.name, handler)
            for pack in services.packs.packs.values()
            for kind, handler in pack.socket_handlers.items()
        }

    async def send(self, kind: str, data: Any, **extra: Any) -> None:
        message = {"type": kind, "data": data, **extra}
        async with self._send_lock:
            if self.ws.application_state == WebSocketState.CONNECTED and not self.closed:
                await self.ws.send_text(json.dumps(message))

    async def error(self, exc: PodiumError, request_id: Any = None) -> None:
        extra = {"id": request_id} if request_id is not None else {}
        await self.send(
            "error", {"code": exc.code, "message": exc.message, "details": exc.details}, **extra
        )

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, reason=reason[:120])

    # --- receiving ------------------------------------------------------------------

    async def receive(self) -> dict[str, Any] | None:
        """The next message as a dict; None when the socket closed (or was closed here)."""
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            return None
        raw = message.get("text")
        if raw is None:
            raw = (message.get("bytes") or b"").decode("utf-8", "replace")
        if len(raw.encode()) > self.settings.ws_max_message_bytes:
            await self.close(
                CLOSE_TOO_BIG, f"message over {self.settings.ws_max_message_bytes} bytes"
            )
            return None
        if not self._limiter.hit(self._limit, "messages"):
            await self.close(CLOSE_POLICY, f"too many messages (limit {self._limit})")
            return None
        try:
            decoded = jsonvalue.loads(raw, "the message")  # the one JSON boundary
        except JSONValueInvalid as exc:
            await self.error(exc)
            return {}
        if not isinstance(decoded, dict) or not isinstance(decoded.get("type"), str):
            await self.error(InvalidInput('a message is a JSON object {"type": ..., "data": ...}'))
            return {}
        return decoded

    # --- the session ----------------------------------------------------------------

    async def authenticate(self, token: str | None, api_key: str | None) -> bool:
        tenancy = self.services.tenancy
        if not token and not api_key:
            try:
                first = await asyncio.wait_for(self.receive(), AUTH_TIMEOUT_SECONDS)
            except TimeoutError:
                await self.close(CLOSE_UNAUTHORIZED, "no auth message")
                return False
            if first is None:
                return False
            data = first.get("data") if isinstance(first.get("data"), dict) else {}
            if first.get("type") != "auth" or not isinstance(data, dict):
                await self.close(CLOSE_UNAUTHORIZED, "the first message must be auth")
                return False
            token, api_key = data.get("token"), data.get("api_key")
        try:
            self.principal = await tenancy.authenticate(token, api_key)
        except Unauthorized as exc:
            await self.close(CLOSE_UNAUTHORIZED, exc.message)
            return False
        interval = self.settings.stream_recheck_seconds
        self.guard = StreamGuard(tenancy, self.principal, interval)
        return True

    async def close_when_withdrawn(self) -> None:
        """Close with 4003 as soon as the caller's access is withdrawn (`StreamGuard`)."""
        assert self.guard is not None
        reason = await self.guard.watch()
        await self.close(CLOSE_WITHDRAWN, reason)
        await self.stop()

    def check_expiry(self) -> None:
        assert self.principal is not None
        expires = self.principal.expires_at
        if expires is not None and time.time() >= expires:
            raise Unauthorized("the access token has expired")

    async def expire_at_token_end(self) -> None:
        assert self.principal is not None
        if self.principal.expires_at is None:
            return
        await asyncio.sleep(max(self.principal.expires_at - time.time(), 0))
        await self.close(CLOSE_UNAUTHORIZED, "the access token has expired; reconnect")

    async def handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        request_id = message.get("id")
        data = message.get("data") or {}
        if not isinstance(data, dict):
            await self.error(InvalidInput("data is a JSON object"), request_id)
            return
        assert self.guard is not None
        reason = await self.guard.withdrawn()
        if reason is not None:
            await self.close(CLOSE_WITHDRAWN, reason)
            return
        try:
            self.check_expiry()
            reply = await self.dispatch(kind, data)
        except Unauthorized as exc:
            await self.close(CLOSE_UNAUTHORIZED, exc.message)
            return
        except PodiumError as exc:
            await self.error(exc, request_id)
            return
        if reply is not None:
            extra = {"id": request_id} if request_id is not None else {}
            await self.send(reply[0], reply[1], **extra)
        for held in self._after_reply:
            held.set()
        self._after_reply.clear()

    async def dispatch(self, kind: str, data: dict[str, Any]) -> tuple[str, Any] | None:
        assert self.principal is not None
        tenancy, sessions = self.services.tenancy, self.services.sessions
        if kind == "ping":
            return "pong", {"ts": time.time()}
        if kind == "auth":
            return "connection.ready", self.ready_data()
        if kind == "unsubscribe":
            subscription_id = _text(data, "subscription_id")
            task = self.subscriptions.pop(subscription_id, None)
            self.guard_reads(subscription_id, None)
            if task is None:
                raise InvalidInput(f"no subscription {subscription_id!r} on this connection")
            task.cancel()
            return "unsubscribed", {"subscription_id": subscription_id}
        if kind not in APP_MESSAGES and kind not in self.pack_types:
            raise self.unknown_type(kind)  # before asking for an app_id it would not need
        app_id = _text(data, "app_id")
        if kind == "subscribe":
            await tenancy.require(self.principal, app_id, "viewer")
            session_id, run_id = _optional(data, "session_id"), _optional(data, "run_id")
            artifact_id = _optional(data, "artifact_id")
            if session_id:
                await sessions.get_session(app_id, session_id)  # 404 for another app's
            if run_id:
                await self.services.podium.store.get_run(run_id, app_id=app_id)
            if artifact_id:
                await self.services.artifacts.get(app_id, artifact_id)
            since = data.get("since", 0)
            if not isinstance(since, int) or isinstance(since, bool) or not 0 <= since < 2**63:
                raise InvalidInput("since is the last seq seen: a whole number ≥ 0")
            await self.services.retention.check_since(app_id, since)  # log_truncated: events pruned
            self._next_subscription += 1
            subscription_id = f"sub_{self._next_subscription}"
            stream = self.services.podium.subscribe(
                app_id, since, session_id=session_id, run_id=run_id, artifact_id=artifact_id
            )
            self.guard_reads(subscription_id, app_id)
            self.subscriptions[subscription_id] = asyncio.create_task(
                self.forward(subscription_id, stream)
            )
            return "subscribed", {
                "subscription_id": subscription_id,
                "app_id": app_id,
                "session_id": session_id,
                "run_id": run_id,
                "artifact_id": artifact_id,
                "since": since,
            }
        if kind == "workflow.subscribe":
            await tenancy.require(self.principal, app_id, "viewer")
            run_id = _text(data, "run_id")
            await self.services.podium.store.get_run(run_id, app_id=app_id)  # 404: another app's
            self._next_subscription += 1
            subscription_id = f"sub_{self._next_subscription}"
            # Registered before the first drawing is made: no change in between is missed.
            stream = self.services.podium.subscribe(app_id, 0, run_id=run_id)
            self.guard_reads(subscription_id, app_id)
            self.subscriptions[subscription_id] = asyncio.create_task(
                self.forward_workflow(subscription_id, app_id, run_id, stream)
            )
            return "subscribed", {
                "subscription_id": subscription_id,
                "app_id": app_id,
                "run_id": run_id,
            }
        if kind == "execution.start":
            await tenancy.require(self.principal, app_id, "member")
            return await self.start_execution(execution.parse_start(data))
        if kind == "execution.subscribe":
            await tenancy.require(self.principal, app_id, "viewer")
            run_id = _text(data, "run_id")
            since = data.get("since", 0)
            if not isinstance(since, int) or isinstance(since, bool) or not 0 <= since < 2**63:
                raise InvalidInput("since is the last seq seen: a whole number ≥ 0")
            await self.services.podium.store.get_run(run_id, app_id=app_id)  # 404: another app's
            await self.services.retention.check_since(app_id, since)
            subscription_id = self.follow_execution(app_id, run_id, since)
            return "execution.subscribed", {"run_id": run_id, "subscription_id": subscription_id}
        if kind == "session.input":
            await tenancy.require(self.principal, app_id, "member")
            run_id = await sessions.answer(
                app_id,
                _text(data, "session_id"),
                _text(data, "interrupt_id"),
                data.get("answer"),
            )
            return "session.input.accepted", {"run_id": run_id}
        if kind == "artifact.action":
            await tenancy.require(self.principal, app_id, "member")
            outcome = await self.services.artifacts.act(
                app_id,
                _text(data, "artifact_id"),
                _text(data, "action"),
                data.get("payload"),
                user_id=self.principal.user_id,
                actor=self.principal.id,
            )
            return "artifact.action.accepted", {
                "action": outcome.action,
                "artifact_id": outcome.artifact_id,
                "session_id": outcome.session_id,
                "run_id": outcome.run_id,
                "runs": outcome.runs,
            }
        if kind == "agent.status":
            await tenancy.require(self.principal, app_id, "viewer")
            agents = self.services.agents
            name = _optional(data, "agent")
            views = (
                [await agents.get_agent(app_id, name)] if name else await agents.list_agents(app_id)
            )
            return "agent.statuses", {
                "app_id": app_id,
                "agents": [
                    {
                        "name": view.definition.name,
                        "status": view.status,
                        "enabled": view.definition.enabled,
                        "active_runs": view.active_runs,
                    }
                    for view in views
                ],
            }
        if kind == "chat.send":
            await tenancy.require(self.principal, app_id, "member")
            model = _optional(data, "model")
            session_id, run_id, events = await start_chat_turn(
                self.services,
                app_id,
                _optional(data, "agent") or "chat",
                _text(data, "message"),
                session_id=_optional(data, "session_id"),
                user_id=self.principal.user_id,
                model=model,
            )
            self._next_subscription += 1
            subscription_id = f"sub_{self._next_subscription}"
            self.guard_reads(subscription_id, app_id)
            self.subscriptions[subscription_id] = asyncio.create_task(
                self.forward_chat(subscription_id, events)
            )
            return "chat.accepted", {
                "session_id": session_id,
                "run_id": run_id,
                "subscription_id": subscription_id,
            }
        if kind in self.pack_types:
            return await self.dispatch_to_pack(kind, app_id, data)
        raise self.unknown_type(kind)

    def unknown_type(self, kind: str) -> InvalidInput:
        packs = "".join(f", {name}" for name in sorted(self.pack_types))
        return InvalidInput(
            f"unknown message type {kind!r}; use ping, subscribe, unsubscribe, "
            "execution.start, execution.subscribe, session.input, artifact.action, chat.send, "
            f"workflow.subscribe, agent.status{packs}"
        )

    async def dispatch_to_pack(
        self, kind: str, app_id: str, data: dict[str, Any]
    ) -> tuple[str, Any] | None:
        """A message a pack answers: the caller reads the app (the handler checks more) and
        the app enabled the pack, as for the pack's routes."""
        assert self.principal is not None
        pack, handler = self.pack_types[kind]
        await self.services.tenancy.require(self.principal, app_id, "viewer")
        if not await self.services.packs.is_enabled(app_id, pack):
            raise NotFound(
                f"pack {pack!r} is not enabled for this app; PUT /api/v1/apps/{app_id}/packs/{pack}"
            )

        def start_stream(stream: Callable[[str], Awaitable[None]]) -> str:
            return self.start_pack_stream(app_id, stream)

        request = PackSocketRequest(
            app_id, data, self.principal, self.services, self.send, start_stream
        )
        return await handler(request)

    def start_pack_stream(self, app_id: str, stream: Callable[[str], Awaitable[None]]) -> str:
        """Run a pack's stream as a subscription of this socket that reads `app_id` (so it
        ends when the caller's access to the app is withdrawn); its id."""
        self._next_subscription += 1
        subscription_id = f"sub_{self._next_subscription}"
        self.guard_reads(subscription_id, app_id)

        async def run() -> None:
            try:
                await stream(subscription_id)
            except (WebSocketDisconnect, RuntimeError):
                pass
            finally:
                self.subscriptions.pop(subscription_id, None)
                self.guard_reads(subscription_id, None)

        self.subscriptions[subscription_id] = asyncio.create_task(run())
        return subscription_id

    async def start_execution(self, request: execution.StartRequest) -> tuple[str, Any]:
        """`execution.start` (docs/api.md): start the run, then follow it on this socket."""
        assert self.principal is not None
        sessions, app_id = self.services.sessions, request.app_id
        model = await execution.run_model(self.services, request)
        options = execution.run_options(request, model)
        since = await self.services.agents.last_seq(app_id)  # the run's events come after
        if request.session_id is not None:
            view = await sessions.get_session(app_id, request.session_id)
            assert view.flow is not None
            record = view.flow
            execution.check_rerun(request, record.definition)
            session_id = request.session_id
            run_id = await sessions.start_run(
                app_id,
                session_id,
                request.run_input,
                strategy=request.strategy,
                trigger_node_id=request.trigger_node_id,
                cached_outputs=request.cached_outputs,
                from_run_id=request.from_run_id,
                options=options,
            )
        else:
            record = await execution.flow_record(self.services, request)
            execution.check_rerun(request, record.definition)
            session_id, run_id = await sessions.start_execution(
                app_id,
                record,
                request.run_input,
                metadata=request.metadata,
                user_id=self.principal.user_id,
                options=options,
                trigger_node_id=request.trigger_node_id,
                cached_outputs=request.cached_outputs,
            )
        subscription_id = (
            self.follow_execution(app_id, run_id, since) if request.subscribe else None
        )
        return "execution.started", {
            "session_id": session_id,
            "run_id": run_id,
            "flow": record.name,
            "flow_id": record.id,
            "flow_version": record.version,
            "model": model,
            "nodes": [node.get("id") for node in record.definition.get("nodes", [])],
            "subscription_id": subscription_id,
        }

    def follow_execution(self, app_id: str, run_id: str, since: int) -> str:
        """Relay the run's events after `since` as `execution.*` messages until it ends."""
        self._next_subscription += 1
        subscription_id = f"sub_{self._next_subscription}"
        stream = self.services.podium.subscribe(app_id, since, run_id=run_id)
        self.guard_reads(subscription_id, app_id)
        replied = asyncio.Event()
        self._after_reply.append(replied)
        self.subscriptions[subscription_id] = asyncio.create_task(
            self.forward_execution(subscription_id, stream, replied)
        )
        return subscription_id

    async def forward_execution(
        self, subscription_id: str, stream: AsyncIterator[Event], replied: asyncio.Event
    ) -> None:
        try:
            await replied.wait()  # `execution.started` comes first
            async for event in stream:
                kind, data = execution.execution_message(event)
                await self.send(kind, data, subscription_id=subscription_id)
                if event.type in execution.RUN_ENDS:
                    break
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.subscriptions.pop(subscription_id, None)
            self.guard_reads(subscription_id, None)
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def forward_chat(self, subscription_id: str, events: AsyncIterator[Event]) -> None:
        """A chat turn's events, each sent as its own type (`message.delta`,
        `message.created`, `agent.status`, …); the subscription ends with the turn."""
        try:
            async for event in events:
                await self.send(event.type, event.to_json(), subscription_id=subscription_id)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.subscriptions.pop(subscription_id, None)
            self.guard_reads(subscription_id, None)
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def forward_workflow(
        self, subscription_id: str, app_id: str, run_id: str, stream: AsyncIterator[Event]
    ) -> None:
        """The workflow's drawing, sent at once and again whenever a node or the run changes
        (events that come together are drawn once)."""
        changed = asyncio.Event()
        started: set[str] = set()

        async def watch() -> None:
            try:
                await follow()
            finally:
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    with contextlib.suppress(Exception):
                        await aclose()

        async def follow() -> None:
            async for event in stream:
                node_id = event.data.get("node_id")
                if event.type == names.NODE_STARTED and isinstance(node_id, str):
                    started.add(node_id)
                elif event.type.startswith("node.") and isinstance(node_id, str):
                    started.discard(node_id)
                elif not event.type.startswith("run."):
                    continue
                changed.set()

        watcher = asyncio.create_task(watch())
        last: dict[str, Any] | None = None
        try:
            changed.set()
            while True:
                await changed.wait()
                changed.clear()
                found = await self.services.workflows.visualization(
                    app_id, run_id, live_running=set(started)
                )
                # The same shape as GET /workflows/{run_id}/visualization answers.
                drawing = WorkflowVisualization.model_validate(found).model_dump(mode="json")
                if drawing != last:
                    await self.send(
                        "workflow.visualization", drawing, subscription_id=subscription_id
                    )
                    last = drawing
        except (WebSocketDisconnect, RuntimeError, PodiumError):
            pass
        finally:
            # Not awaited: cancelled, the watcher closes the subscription itself (and the
            # socket's end is not held up by it).
            watcher.cancel()

    async def forward(self, subscription_id: str, stream: AsyncIterator[Event]) -> None:
        try:
            async for event in stream:
                await self.send("event", event.to_json(), subscription_id=subscription_id)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    def guard_reads(self, subscription_id: str, app_id: str | None) -> None:
        """Record (or with None forget) that a subscription reads an app, for the guard."""
        assert self.guard is not None
        if app_id is None:
            self.guard.reads.pop(subscription_id, None)
        else:
            self.guard.reads[subscription_id] = (app_id, "viewer")

    def ready_data(self) -> dict[str, Any]:
        assert self.principal is not None
        return {
            "principal": {"kind": self.principal.kind, "id": self.principal.id},
            "app_id": self.principal.app_id,
            "expires_at": self.principal.expires_at,
            "max_message_bytes": self.settings.ws_max_message_bytes,
        }

    async def stop(self) -> None:
        for task in self.subscriptions.values():
            task.cancel()
        if self.subscriptions:
            await asyncio.gather(*self.subscriptions.values(), return_exceptions=True)
        self.subscriptions.clear()


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{key} is required (a string)")
    return value


def _optional(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{key} is a string")
    return value


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    # A front end allowed to call the API from its origin (CORS) may open the socket too.
    origins = [*services.settings.allowed_origins, *services.settings.cors_origins]
    headers = websocket.headers
    if not origin_allowed(headers.get("origin"), origins, headers.get("host")):
        await websocket.close(code=CLOSE_ORIGIN, reason="origin not allowed")
        return
    await websocket.accept()
    connection = Connection(websocket, services)
    services.sockets.open += 1
    expiry: asyncio.Task[None] | None = None
    withdrawal: asyncio.Task[None] | None = None
    try:
        params = websocket.query_params
        if not await connection.authenticate(params.get("token"), params.get("api_key")):
            return
        await connection.send("connection.ready", connection.ready_data())
        expiry = asyncio.create_task(connection.expire_at_token_end())
        withdrawal = asyncio.create_task(connection.close_when_withdrawn())
        while not connection.closed:
            message = await connection.receive()
            if message is None:
                break
            if message:
                await connection.handle(message)
    except WebSocketDisconnect:
        pass
    finally:
        services.sockets.open -= 1
        for task in (expiry, withdrawal):
            if task is not None:
                task.cancel()
        await connection.stop()
