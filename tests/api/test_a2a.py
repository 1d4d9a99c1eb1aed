"""A2A against a live server on a loopback port, with `a2a-sdk`'s own client: discover an
agent's card, send a message, stream the answer, answer an `input-required` task; tasks
get/cancel; isolation (another app's key, no key, a revoked key, another app's task); the
JSON-RPC errors of bad requests. On SQLite and PostgreSQL, with the offline models."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import A2ACardResolver, AgentCardResolutionError, ClientConfig, ClientFactory
from a2a.types import a2a_pb2 as pb
from a2a.utils.errors import InvalidRequestError
from tests.api.conftest import api_settings
from tests.api.threaded_server import ServerUser, ThreadedServer, threaded_server

ASKER = {
    "name": "asker",
    "description": "Books a trip; asks where to first.",
    "model": "offline/script",
    "tools": ["ask_user"],
    "script": [
        {"tool_calls": [{"name": "ask_user", "arguments": {"question": "Which city?"}}]},
        {"text": "Booked for you."},
    ],
}
SLOW = {
    "name": "waiter",
    "model": "offline/script",
    "tools": ["ask_user"],
    "script": [{"tool_calls": [{"name": "ask_user", "arguments": {"question": "Ready?"}}]}],
}


@dataclass
class Tenant:
    user: ServerUser
    app_id: str
    key: str
    key_id: str


def tenant(server: ThreadedServer, name: str) -> Tenant:
    user = server.login(name)
    app_id = user.create_app(f"{name}-app")
    with user.client() as client:
        created = client.post(f"/api/v1/apps/{app_id}/api-keys", json={"name": "a2a"})
        assert created.status_code == 201, created.text
        for definition in (ASKER, SLOW):
            response = client.post(f"/api/v1/apps/{app_id}/agents", json=definition)
            assert response.status_code == 201, response.text
    return Tenant(user, app_id, created.json()["key"], created.json()["id"])


@pytest.fixture
def server(database_url: str) -> Iterator[ThreadedServer]:
    with threaded_server(api_settings(database_url)) as running:
        yield running


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def agent_url(server: ThreadedServer, t: Tenant, agent: str) -> str:
    return f"{server.url}/a2a/{t.app_id}/{agent}"


def text_message(text: str, *, task_id: str = "", context_id: str = "") -> pb.SendMessageRequest:
    return pb.SendMessageRequest(
        message=pb.Message(
            message_id=f"m-{text[:8]}",
            role=pb.ROLE_USER,
            parts=[pb.Part(text=text)],
            task_id=task_id,
            context_id=context_id,
        )
    )


async def stream(url: str, key: str, request: pb.SendMessageRequest) -> list[pb.StreamResponse]:
    async with httpx.AsyncClient(headers=bearer(key), timeout=30) as http:
        client = await ClientFactory(ClientConfig(httpx_client=http)).create_from_url(url)
        return [event async for event in client.send_message(request)]


def final_status(events: list[pb.StreamResponse]) -> pb.TaskStatus:
    updates = [e.status_update for e in events if e.HasField("status_update")]
    assert updates, events
    return updates[-1].status


def rpc(server: ThreadedServer, url: str, key: str | None, body: Any, **headers: str) -> Any:
    sent = {"A2A-Version": "1.0", **headers}
    if key:
        sent["Authorization"] = f"Bearer {key}"
    with server.client(headers=sent) as client:
        return client.post(url.removeprefix(server.url), json=body)


def test_discover_send_stream_and_answer_a_question(server: ThreadedServer) -> None:
    t = tenant(server, "ada")

    async def scenario() -> None:
        # The card, found where A2A clients look, names the endpoint and the bearer scheme.
        async with httpx.AsyncClient(headers=bearer(t.key), timeout=30) as http:
            card = await A2ACardResolver(http, agent_url(server, t, "asker")).get_agent_card()
        assert card.name == "asker" and card.description == ASKER["description"]
        assert [(i.url, i.protocol_binding) for i in card.supported_interfaces] == [
            (agent_url(server, t, "asker"), "JSONRPC")
        ]
        assert card.capabilities.streaming and not card.capabilities.push_notifications
        assert card.security_schemes["bearer"].http_auth_security_scheme.scheme == "bearer"
        assert [s.id for s in card.skills] == ["asker"]
        # The echo (the built-in `chat` agent on offline/echo) streams its answer.
        events = await stream(agent_url(server, t, "chat"), t.key, text_message("hello there"))
        first = events[0]
        # Submitted, or already working when the run was claimed before the first event.
        assert first.HasField("task")
        assert first.task.status.state in (pb.TASK_STATE_SUBMITTED, pb.TASK_STATE_WORKING)
        chunks = [e.artifact_update for e in events if e.HasField("artifact_update")]
        deltas = "".join(c.artifact.parts[0].text for c in chunks if not c.last_chunk)
        assert deltas.strip() == "hello there"
        assert chunks[-1].last_chunk and chunks[-1].artifact.parts[0].text == "hello there"
        status = final_status(events)
        assert status.state == pb.TASK_STATE_COMPLETED
        assert status.message.parts[0].text == "hello there"

        # input-required: the agent asks; the next message on the task answers it.
        events = await stream(agent_url(server, t, "asker"), t.key, text_message("book a trip"))
        task_id, context_id = events[0].task.id, events[0].task.context_id
        status = final_status(events)
        assert status.state == pb.TASK_STATE_INPUT_REQUIRED
        assert status.message.parts[0].text == "Which city?"
        answer = text_message("Paris", task_id=task_id, context_id=context_id)
        events = await stream(agent_url(server, t, "asker"), t.key, answer)
        assert events[0].task.id == task_id
        status = final_status(events)
        assert status.state == pb.TASK_STATE_COMPLETED
        assert status.message.parts[0].text == "Booked for you."

        # GetTask reads the same task back from the store: the transcript and the answer.
        async with httpx.AsyncClient(headers=bearer(t.key), timeout=30) as http:
            client = await ClientFactory(ClientConfig(httpx_client=http)).create_from_url(
                agent_url(server, t, "asker")
            )
            task = await client.get_task(pb.GetTaskRequest(id=task_id))
            assert task.status.state == pb.TASK_STATE_COMPLETED
            assert task.context_id == context_id
            assert [m.parts[0].text for m in task.history] == ["book a trip", "Booked for you."]
            assert task.artifacts[0].parts[0].text == "Booked for you."
            # A message to a finished task is refused, saying what to do instead.
            with pytest.raises(InvalidRequestError, match="send a new message without taskId"):
                async for _ in client.send_message(text_message("again", task_id=task_id)):
                    pass

    asyncio.run(scenario())


def test_send_without_streaming_and_cancel(server: ThreadedServer) -> None:
    t = tenant(server, "bea")
    url = agent_url(server, t, "waiter")
    sent = rpc(
        server,
        url,
        t.key,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "SendMessage",
            "params": {
                "message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "go"}]}
            },
        },
    )
    assert sent.status_code == 200, sent.text
    task = sent.json()["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    assert task["status"]["message"]["parts"] == [{"text": "Ready?"}]
    cancel = {"jsonrpc": "2.0", "id": 2, "method": "CancelTask", "params": {"id": task["id"]}}
    cancelled = rpc(server, url, t.key, cancel).json()["result"]
    assert cancelled["status"]["state"] == "TASK_STATE_CANCELED"
    again = rpc(server, url, t.key, cancel).json()["error"]
    assert again["code"] == -32002 and "has ended" in again["message"]
    got = rpc(
        server,
        url,
        t.key,
        {"jsonrpc": "2.0", "id": 3, "method": "GetTask", "params": {"id": task["id"]}},
    ).json()["result"]
    assert got["status"]["state"] == "TASK_STATE_CANCELED"


def test_isolation(server: ThreadedServer) -> None:
    ada, bob = tenant(server, "ada"), tenant(server, "bob")
    card = f"/a2a/{ada.app_id}/asker/.well-known/agent-card.json"
    with server.client() as anonymous:
        assert anonymous.get(card).status_code == 401
        assert anonymous.post(f"/a2a/{ada.app_id}/asker", json={}).status_code == 401
    with server.client(headers={"Authorization": f"Bearer {bob.key}"}) as other:
        response = other.get(card)
        assert response.status_code == 404 and ada.app_id not in response.text.replace(
            f"app {ada.app_id!r} does not exist", ""
        )
        assert other.post(f"/a2a/{ada.app_id}/asker", json={}).status_code == 404
    with server.client(headers={"Authorization": f"Bearer {ada.key}"}) as own:
        assert own.get(card).status_code == 200
        assert own.get(f"/a2a/{ada.app_id}/nobody/.well-known/agent-card.json").status_code == 404

    # A task of another app is not found, by its id, at the other app's own agent.
    sent = rpc(
        server,
        agent_url(server, ada, "waiter"),
        ada.key,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "SendMessage",
            "params": {
                "message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "hi"}]}
            },
        },
    ).json()["result"]["task"]
    get = {"jsonrpc": "2.0", "id": 2, "method": "GetTask", "params": {"id": sent["id"]}}
    for method in ("GetTask", "CancelTask"):
        error = rpc(server, agent_url(server, bob, "waiter"), bob.key, {**get, "method": method})
        assert error.json()["error"]["code"] == -32001, error.text
    # ... and of the same app but another agent, too.
    error = rpc(server, agent_url(server, ada, "asker"), ada.key, get).json()["error"]
    assert error["code"] == -32001

    # A revoked key stops at once.
    with ada.user.client() as client:
        assert client.delete(f"/api/v1/apps/{ada.app_id}/api-keys/{ada.key_id}").status_code == 204
    with server.client(headers={"Authorization": f"Bearer {ada.key}"}) as revoked:
        assert revoked.get(card).status_code == 401
        assert revoked.post(f"/a2a/{ada.app_id}/asker", json={}).status_code == 401

    async def discover_revoked() -> None:
        with pytest.raises(AgentCardResolutionError):
            await stream(agent_url(server, ada, "asker"), ada.key, text_message("hi"))

    asyncio.run(discover_revoked())


def test_bad_requests_get_json_rpc_errors(server: ThreadedServer) -> None:
    t = tenant(server, "cy")
    url = agent_url(server, t, "chat")

    def error(body: Any, **headers: str) -> dict[str, Any]:
        response = rpc(server, url, t.key, body, **headers)
        assert response.status_code == 200, response.text
        return dict(response.json()["error"])

    assert error({"jsonrpc": "2.0", "id": 1, "method": "Nope"})["code"] == -32601
    assert error({"jsonrpc": "1.0", "id": 1, "method": "GetTask"})["code"] == -32600
    missing = error({"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "run_x"}})
    assert missing["code"] == -32001 and "run_x" in missing["message"]
    bad_params = error(
        {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": {"parts": 3}}}
    )
    assert bad_params["code"] == -32602
    no_text = error(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "SendMessage",
            "params": {
                "message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": " "}]}
            },
        }
    )
    assert no_text["code"] == -32602 and "text part" in no_text["message"]
    no_context = error(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "SendMessage",
            "params": {
                "message": {
                    "messageId": "m",
                    "role": "ROLE_USER",
                    "contextId": "ses_nope",
                    "parts": [{"text": "hi"}],
                }
            },
        }
    )
    assert no_context["code"] == -32602 and "ses_nope" in no_context["message"]
    push = error(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "CreateTaskPushNotificationConfig",
            "params": {"taskId": "run_x", "url": "https://example.com/hook"},
        }
    )
    assert push["code"] == -32003 and "not offered" in push["message"]
    listed = error({"jsonrpc": "2.0", "id": 1, "method": "ListTasks", "params": {}})
    assert listed["code"] == -32004 and "GetTask" in listed["message"]
    old = rpc(
        server,
        url,
        t.key,
        {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}},
        **{"A2A-Version": "0.3"},
    )
    assert old.json()["error"]["code"] == -32009


def test_a_task_survives_a_restart(database_url: str) -> None:
    """The task id is the run's: a task asking a question is answered by a new server."""
    request = text_message("book a trip")
    with threaded_server(api_settings(database_url)) as first:
        t = tenant(first, "dee")
        url = agent_url(first, t, "asker")
        events = asyncio.run(stream(url, t.key, request))
        task_id, context_id = events[0].task.id, events[0].task.context_id
        assert final_status(events).state == pb.TASK_STATE_INPUT_REQUIRED
    with threaded_server(api_settings(database_url)) as second:
        url = f"{second.url}/a2a/{t.app_id}/asker"
        answer = text_message("Lisbon", task_id=task_id, context_id=context_id)
        events = asyncio.run(stream(url, t.key, answer))
        status = final_status(events)
        assert (events[0].task.id, status.state) == (task_id, pb.TASK_STATE_COMPLETED)
        assert status.message.parts[0].text == "Booked for you."


DOC = Path(__file__).resolve().parents[2] / "docs" / "a2a.md"


def doc_block(language: str) -> str:
    blocks = re.findall(rf"^```{language}\n(.*?)^```$", DOC.read_text(), re.S | re.M)
    assert len(blocks) == 1, f"docs/a2a.md has {len(blocks)} ```{language} blocks, not 1"
    return str(blocks[0])


def test_the_docs_example_runs_as_printed(server: ThreadedServer) -> None:
    t = tenant(server, "eve")
    with t.user.client() as client:
        defined = client.post(f"/api/v1/apps/{t.app_id}/agents", json=json.loads(doc_block("json")))
        assert defined.status_code == 201, defined.text
    env = {
        **os.environ,
        "PODIUM_URL": server.url,
        "PODIUM_APP": t.app_id,
        "PODIUM_API_KEY": t.key,
    }
    ran = subprocess.run(
        [sys.executable, "-c", doc_block("python")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == doc_block("text")


def test_subscribe_and_a_disabled_agent(server: ThreadedServer) -> None:
    t = tenant(server, "fay")
    url = agent_url(server, t, "waiter")
    events = asyncio.run(stream(url, t.key, text_message("go")))
    task_id = events[0].task.id

    async def subscribe() -> list[pb.StreamResponse]:
        async with httpx.AsyncClient(headers=bearer(t.key), timeout=30) as http:
            client = await ClientFactory(ClientConfig(httpx_client=http)).create_from_url(url)
            return [e async for e in client.subscribe(pb.SubscribeToTaskRequest(id=task_id))]

    # A task that waits for an answer: the task alone, as it stands.
    (only,) = asyncio.run(subscribe())
    assert only.task.id == task_id and only.task.status.state == pb.TASK_STATE_INPUT_REQUIRED
    assert only.task.status.message.metadata["question_id"].startswith("int_")
    missing = {"jsonrpc": "2.0", "id": 1, "method": "SubscribeToTask", "params": {"id": "run_x"}}
    assert rpc(server, url, t.key, missing).json()["error"]["code"] == -32001

    # A disabled agent keeps its card but takes no message: the words of the 409.
    with t.user.client() as client:
        assert client.post(f"/api/v1/apps/{t.app_id}/agents/waiter/disable").status_code == 200
    send = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "SendMessage",
        "params": {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hi"}]}},
    }
    error = rpc(server, url, t.key, send).json()["error"]
    assert error["code"] == -32600 and "agent 'waiter' is disabled" in error["message"]


def test_the_json_boundary_and_the_body_type_hold(server: ThreadedServer) -> None:
    """The A2A endpoint is outside /api/v1 but behind the same body checks."""
    t = tenant(server, "gus")
    path = f"/a2a/{t.app_id}/chat"
    headers = {"Authorization": f"Bearer {t.key}", "A2A-Version": "1.0"}
    with server.client(headers=headers) as client:
        deep = client.post(
            path, content="[" * 300 + "]" * 300, headers={"Content-Type": "application/json"}
        )
        assert deep.status_code == 422 and deep.json()["error"]["code"] == "json_invalid"
        form = client.post(path, content="a=1", headers={"Content-Type": "text/plain"})
        assert form.status_code == 415, form.text
        broken = client.post(path, content="{", headers={"Content-Type": "application/json"})
        assert broken.status_code == 422 and broken.json()["error"]["code"] == "json_invalid"
        empty = client.post(path)  # no body at all: the protocol's parse error
        assert empty.status_code == 200 and empty.json()["error"]["code"] == -32700
