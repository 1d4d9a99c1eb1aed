"""The WebSocket `/api/v1/ws`: authentication, origins, commands, limits, resumable streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
import websockets
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect
from tests.api.conftest import ASK_FLOW, Actor, api_settings
from tests.api.threaded_server import threaded_server

from podium.config import Settings

WS = "/api/v1/ws"
WAIT = "?timeout=20"


def connect(actor: Actor, **headers: str) -> Any:
    return actor.client.websocket_connect(f"{WS}?token={actor.access_token}", headers=headers)


def receive_until(
    ws: WebSocketTestSession, wanted: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Messages up to and including the first one `wanted` accepts."""
    messages = []
    while True:
        message = ws.receive_json()
        messages.append(message)
        if wanted(message):
            return messages


def reply_to(request_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda message: message.get("id") == request_id


def event_of(event_type: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == "event" and m["data"]["type"] == event_type


def closed_with(ws: WebSocketTestSession) -> int:
    """Read until the server closes the socket; its close code."""
    with pytest.raises(WebSocketDisconnect) as closed:
        while True:
            ws.receive_json()
    return closed.value.code


@pytest.fixture
def app_id(admin: Actor) -> str:
    app_id = admin.create_app("live")
    assert admin.post(f"/api/v1/apps/{app_id}/flows", ASK_FLOW).status_code == 201
    return app_id


# --- connecting -----------------------------------------------------------------------


def test_a_token_in_the_query_gets_connection_ready(admin: Actor) -> None:
    with connect(admin) as ws:
        ready = ws.receive_json()
        assert ready["type"] == "connection.ready"
        assert ready["data"]["principal"] == {"kind": "user", "id": admin.user["id"]}
        assert ready["data"]["max_message_bytes"] == 65536
        assert ready["data"]["expires_at"] > 0


def test_a_token_in_the_first_message_gets_connection_ready(admin: Actor) -> None:
    with admin.client.websocket_connect(WS) as ws:
        ws.send_json({"type": "auth", "data": {"token": admin.access_token}})
        assert ws.receive_json()["type"] == "connection.ready"
        ws.send_json({"type": "ping", "id": "p1"})
        pong = ws.receive_json()
        assert pong["type"] == "pong" and pong["id"] == "p1" and pong["data"]["ts"] > 0


@pytest.mark.parametrize("how", ["query", "message"])
def test_an_invalid_token_is_closed_4001(admin: Actor, how: str) -> None:
    if how == "query":
        ws_context = admin.client.websocket_connect(f"{WS}?token=not-a-token")
    else:
        ws_context = admin.client.websocket_connect(WS)
    with ws_context as ws:
        if how == "message":
            ws.send_json({"type": "auth", "data": {"token": admin.access_token + "x"}})
        assert closed_with(ws) == 4001


def test_a_first_message_that_is_not_auth_is_closed_4001(admin: Actor) -> None:
    with admin.client.websocket_connect(WS) as ws:
        ws.send_json({"type": "ping"})
        assert closed_with(ws) == 4001


def test_an_origin_not_allowed_is_refused_4003(admin: Actor) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        connect(admin, origin="https://evil.example") as ws,
    ):
        ws.receive_json()
    assert refused.value.code == 4003
    with connect(admin, origin="http://localhost") as ws:  # listed by default
        assert ws.receive_json()["type"] == "connection.ready"


def test_the_server_s_own_origin_is_allowed(admin: Actor) -> None:
    """The console, served by the server itself on any port: its page's origin is the Host
    the socket is opened on; another port or host is still refused."""
    for host, origin, allowed in (
        ("127.0.0.1:8000", "http://127.0.0.1:8000", True),
        ("podium.example:443", "https://podium.example:443", True),
        ("127.0.0.1:8000", "http://127.0.0.1:9000", False),
        ("127.0.0.1:8000", "http://evil.example:8000", False),
    ):
        if allowed:
            with connect(admin, origin=origin, host=host) as ws:
                assert ws.receive_json()["type"] == "connection.ready", (host, origin)
            continue
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            connect(admin, origin=origin, host=host) as ws,
        ):
            ws.receive_json()
        assert refused.value.code == 4003, (host, origin)


# --- commands -------------------------------------------------------------------------


def test_execution_start_and_session_input_over_one_socket(admin: Actor, app_id: str) -> None:
    with connect(admin) as ws:
        ws.receive_json()
        ws.send_json({"type": "subscribe", "id": "s", "data": {"app_id": app_id}})
        subscribed = receive_until(ws, reply_to("s"))[-1]
        assert subscribed["type"] == "subscribed"
        subscription = subscribed["data"]["subscription_id"]
        ws.send_json(
            {"type": "execution.start", "id": "go", "data": {"app_id": app_id, "flow": "ask"}}
        )
        started = receive_until(ws, reply_to("go"))[-1]
        assert started["type"] == "execution.started"
        session_id, run_id = started["data"]["session_id"], started["data"]["run_id"]
        events = receive_until(ws, event_of("run.interrupted"))
        assert all(m["subscription_id"] == subscription for m in events if m["type"] == "event")

        question = admin.get(f"/api/v1/apps/{app_id}/sessions/{session_id}").json()[
            "pending_question"
        ]
        answer = {
            "app_id": app_id,
            "session_id": session_id,
            "interrupt_id": question["interrupt_id"],
            "answer": "Ada",
        }
        ws.send_json({"type": "session.input", "id": "a1", "data": answer})
        accepted = receive_until(ws, reply_to("a1"))[-1]
        assert accepted == {
            "type": "session.input.accepted",
            "data": {"run_id": run_id},
            "id": "a1",
        }
        receive_until(ws, event_of("run.succeeded"))
        ws.send_json({"type": "session.input", "id": "a2", "data": answer})
        again = receive_until(ws, reply_to("a2"))[-1]
        assert again["type"] == "error" and again["data"]["code"] == "conflict"

        ws.send_json({"type": "unsubscribe", "id": "u", "data": {"subscription_id": subscription}})
        assert receive_until(ws, reply_to("u"))[-1]["type"] == "unsubscribed"
        ws.send_json({"type": "unsubscribe", "id": "u2", "data": {"subscription_id": subscription}})
        assert receive_until(ws, reply_to("u2"))[-1]["data"]["code"] == "invalid_input"
    session = admin.get(f"/api/v1/apps/{app_id}/sessions/{session_id}").json()
    assert session["state"]["greeting"] == "Hi Ada"


def test_a_subscription_filters_by_session(admin: Actor, app_id: str) -> None:
    base = f"/api/v1/apps/{app_id}"
    other = admin.post(f"{base}/sessions", {"flow": "ask"}).json()
    admin.get(f"{base}/runs/{other['run_id']}/wait{WAIT}")
    mine = admin.post(f"{base}/sessions", {"flow": "ask"}).json()
    with connect(admin) as ws:
        ws.receive_json()
        ws.send_json({"type": "subscribe", "data": {"app_id": app_id, "session_id": mine["id"]}})
        messages = receive_until(ws, event_of("run.interrupted"))
    events = [m["data"] for m in messages if m["type"] == "event"]
    assert events and {e["session_id"] for e in events} == {mine["id"]}


def test_every_message_is_authorized(admin: Actor, make_user: Any, app_id: str) -> None:
    viewer = make_user("vera")
    added = admin.post(f"/api/v1/apps/{app_id}/members", {"user": "vera", "role": "viewer"})
    assert added.status_code == 201, added.text
    outsider = make_user("olga")
    with connect(viewer) as ws:
        ws.receive_json()
        ws.send_json(
            {"type": "execution.start", "id": "x", "data": {"app_id": app_id, "flow": "ask"}}
        )
        error = receive_until(ws, reply_to("x"))[-1]
        assert error["type"] == "error" and error["data"]["code"] == "forbidden"
        ws.send_json({"type": "subscribe", "id": "s", "data": {"app_id": app_id}})
        assert receive_until(ws, reply_to("s"))[-1]["type"] == "subscribed"  # viewers read
    with connect(outsider) as ws:
        ws.receive_json()
        ws.send_json({"type": "subscribe", "id": "s", "data": {"app_id": app_id}})
        assert receive_until(ws, reply_to("s"))[-1]["data"]["code"] == "not_found"
    assert admin.get(f"/api/v1/apps/{app_id}/sessions").json()["items"] == []


def test_malformed_and_unknown_messages_get_an_error(admin: Actor) -> None:
    with connect(admin) as ws:
        ws.receive_json()
        ws.send_text("not json")
        assert ws.receive_json()["data"] == {
            "code": "json_invalid",  # the one JSON boundary
            "message": "the message: not valid JSON (Expecting value at position 0)",
            "details": {"path": "$"},
        }
        ws.send_text("[1]")
        assert ws.receive_json()["data"]["code"] == "invalid_input"  # JSON, not a message
        ws.send_json({"type": "teleport", "id": "t", "data": {"app_id": "app_x"}})
        error = ws.receive_json()
        assert error["id"] == "t" and "unknown message type" in error["data"]["message"]
        ws.send_json({"type": "ping", "id": "still"})
        assert ws.receive_json()["type"] == "pong"  # the socket stays open


def test_a_message_over_64_kib_is_closed_1009(admin: Actor) -> None:
    with connect(admin) as ws:
        ws.receive_json()
        ws.send_json({"type": "ping", "data": {"pad": "x" * 65536}})
        assert closed_with(ws) == 1009


class TestRateLimit:
    @pytest.fixture
    def api_config(self, database_url: str) -> Settings:
        return api_settings(database_url, ws_rate_limit="5/minute")

    def test_too_many_messages_are_closed_1008(self, admin: Actor) -> None:
        with connect(admin) as ws:
            ws.receive_json()
            for n in range(5):
                ws.send_json({"type": "ping", "id": n})
                assert ws.receive_json()["type"] == "pong"
            ws.send_json({"type": "ping", "id": 5})
            assert closed_with(ws) == 1008


class TestTokenExpiry:
    # Long enough for a loaded machine to log in and connect before the token expires (a
    # short token once failed the rate-limit test above, which shared this configuration).
    @pytest.fixture
    def api_config(self, database_url: str) -> Settings:
        return api_settings(database_url, access_token_minutes=0.08)

    def test_the_socket_closes_4001_when_its_token_expires(self, admin: Actor) -> None:
        with connect(admin) as ws:
            ready = ws.receive_json()
            assert ready["type"] == "connection.ready"
            assert ready["data"]["expires_at"] is not None
            assert closed_with(ws) == 4001  # ~4.8 s after the login, with no message sent


# --- a resumable stream over a real socket ----------------------------------------------


@pytest.fixture
def live_config(database_url: str) -> Settings:
    return api_settings(database_url)


async def _next_event(ws: Any, seen: list[dict[str, Any]]) -> dict[str, Any]:
    """The next `event` message's envelope (replies are skipped), appended to `seen`."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 20))
        if message["type"] == "event":
            seen.append(message["data"])
            return dict(message["data"])


def test_a_reconnect_with_since_gets_every_event_exactly_once(live_config: Settings) -> None:
    """A client follows the app, disconnects while the run waits for its answer, and
    reconnects with `since` = the last seq it saw: it gets every event once, in order."""
    with threaded_server(live_config) as server:
        user = server.login("root", admin=True)
        app_id = user.create_app("resume")
        base = f"/api/v1/apps/{app_id}"
        with user.client() as client:
            assert client.post(f"{base}/flows", json=ASK_FLOW).status_code == 201

        async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            url = f"{server.ws_url}?token={user.access_token}"
            before: list[dict[str, Any]] = []
            async with websockets.connect(url) as ws:
                assert json.loads(await ws.recv())["type"] == "connection.ready"
                await ws.send(json.dumps({"type": "subscribe", "data": {"app_id": app_id}}))
                await ws.send(
                    json.dumps(
                        {"type": "execution.start", "data": {"app_id": app_id, "flow": "ask"}}
                    )
                )
                while (await _next_event(ws, before))["type"] != "run.interrupted":
                    pass
            # Away: the answer arrives and the run goes on while no one listens.
            session_id = before[-1]["session_id"]
            with user.client() as client:
                question = client.get(f"{base}/sessions/{session_id}").json()["pending_question"]
                answered = client.post(
                    f"{base}/sessions/{session_id}/input",
                    json={"interrupt_id": question["interrupt_id"], "answer": "Ada"},
                )
                assert answered.status_code == 202
            last = [e for e in before if e["seq"] is not None][-1]["seq"]
            after: list[dict[str, Any]] = []
            async with websockets.connect(url) as ws:
                assert json.loads(await ws.recv())["type"] == "connection.ready"
                subscribe = {"type": "subscribe", "data": {"app_id": app_id, "since": last}}
                await ws.send(json.dumps(subscribe))
                while (await _next_event(ws, after))["type"] != "run.succeeded":
                    pass
            return before, after

        before, after = asyncio.run(scenario())
        with user.client() as client:
            log = client.get(f"{base}/events", params={"limit": 1000}).json()["items"]

    persisted = [e for e in before + after if e["seq"] is not None]
    seqs = [e["seq"] for e in persisted]
    assert seqs == list(range(1, len(log) + 1))  # in order, none twice, none missing
    assert persisted == log
    assert next(e["type"] for e in after if e["seq"] is not None) == "run.queued"
