"""Chat over HTTP and the WebSocket, with no configuration at all: the `chat` agent on
`offline/echo` answers, streams its tokens, and keeps the conversation."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from tests.api.conftest import Actor


def sse_events(response: Any) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a Server-Sent Events body."""
    found = []
    kind, data = None, []
    for line in response.iter_lines():
        if line.startswith("event:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data.append(line.split(":", 1)[1].strip())
        elif not line and kind is not None:
            found.append((kind, json.loads("\n".join(data))))
            kind, data = None, []
    return found


def test_chat_answers_on_offline_echo_and_keeps_the_conversation(admin: Actor) -> None:
    app_id = admin.create_app("chatty")
    base = f"/api/v1/apps/{app_id}/chat"
    first = admin.post(f"{base}/messages", {"agent": "chat", "message": "hello there"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["status"] == "succeeded" and body["answer"] == "hello there"
    second = admin.post(
        f"{base}/messages", {"session_id": body["session_id"], "message": "and again"}
    )
    assert second.json()["answer"] == "and again"
    history = admin.get(f"{base}/{body['session_id']}/history").json()
    assert [(m["data"]["role"], m["data"]["content"]) for m in history] == [
        ("user", "hello there"),
        ("assistant", "hello there"),
        ("user", "and again"),
        ("assistant", "and again"),
    ]
    assert [
        m["data"]["role"] for m in admin.get(f"{base}/{body['session_id']}/history?limit=1").json()
    ] == ["assistant"]
    state = admin.get(f"/api/v1/apps/{app_id}/sessions/{body['session_id']}").json()["state"]
    assert len(state["messages"]) == 4
    assert admin.delete(f"{base}/{body['session_id']}/history").status_code == 204
    assert admin.get(f"{base}/{body['session_id']}/history").json() == []


def test_chat_streams_tokens_over_sse(admin: Actor) -> None:
    app_id = admin.create_app("streamy")
    with admin.client.stream(
        "POST",
        f"/api/v1/apps/{app_id}/chat/stream",
        json={"agent": "chat", "message": "one two three four"},
        headers=admin.headers,
    ) as response:
        assert response.status_code == 200
        events = sse_events(response)
    kinds = [k for k, _ in events]
    assert kinds[0] == "chat.started" and kinds[-1] == "done", kinds
    deltas = [d["data"]["delta"] for k, d in events if k == "message.delta"]
    assert len(deltas) == 4 and "".join(deltas) == "one two three four", kinds
    created = [d["data"] for k, d in events if k == "message.created"]
    assert created[-1]["content"] == "one two three four"
    assert kinds.index("message.delta") < kinds.index("run.succeeded")
    assert "agent.status" in kinds


def test_chat_streams_tokens_over_the_websocket(api: TestClient, admin: Actor) -> None:
    app_id = admin.create_app("socket")
    with api.websocket_connect(f"/api/v1/ws?token={admin.access_token}") as ws:
        assert ws.receive_json()["type"] == "connection.ready"
        ws.send_json(
            {
                "type": "chat.send",
                "id": 1,
                "data": {"app_id": app_id, "agent": "chat", "message": "red green blue"},
            }
        )
        seen: list[dict[str, Any]] = []
        while True:
            message = ws.receive_json()
            seen.append(message)
            if message["type"] == "run.succeeded":
                break
    kinds = [m["type"] for m in seen]
    assert kinds[0] == "chat.accepted"
    deltas = [m["data"]["data"]["delta"] for m in seen if m["type"] == "message.delta"]
    assert "".join(deltas) == "red green blue" and len(deltas) == 3
    assert "agent.status" in kinds and "message.created" in kinds
