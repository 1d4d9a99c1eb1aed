"""`/api/v1/apps/{app_id}/mcp`: an app as an MCP server, driven by the official SDK's
streamable-HTTP client against a live server on a loopback port (uvicorn in a thread), on
every backend. Also Podium's own MCP client pointed at it, and the refusals: another app's
key, a revoked key, no key, a viewer starting a flow, bad arguments, a body too deep or too
large, too many requests.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, INVALID_REQUEST, CallToolResult
from tests.api.conftest import ASK_FLOW, api_settings
from tests.api.test_agents import call, scripted
from tests.api.threaded_server import ServerUser, ThreadedServer, threaded_server
from tests.conftest import BACKENDS, _truncate

from podium import egress
from podium.storage.migrate import upgrade
from podium.storage.urls import sqlite_url
from podium.tools.mcp_config import leaves

RESOURCE_NOT_FOUND = -32002
MAX_BODY = 64 * 1024


@dataclass
class Tenant:
    user: ServerUser
    app_id: str
    member_key: str
    viewer_key: str
    revoked_key: str

    @property
    def base(self) -> str:
        return f"/api/v1/apps/{self.app_id}"

    def mcp_url(self) -> str:
        return f"{self.user.server.url}{self.base}/mcp"

    def rest(self, method: str, path: str, body: Any = None) -> Any:
        with self.user.client() as client:
            response = client.request(method, self.base + path, json=body)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


def make_tenant(server: ThreadedServer, name: str) -> Tenant:
    user = server.login(name)
    app_id = user.create_app(f"{name}-app")
    tenant = Tenant(user, app_id, "", "", "")
    tenant.rest("POST", "/flows", ASK_FLOW)
    tenant.member_key = tenant.rest("POST", "/api-keys", {"name": "mcp", "role": "member"})["key"]
    tenant.viewer_key = tenant.rest("POST", "/api-keys", {"name": "view", "role": "viewer"})["key"]
    revoked = tenant.rest("POST", "/api-keys", {"name": "old", "role": "member"})
    tenant.rest("DELETE", f"/api-keys/{revoked['id']}")
    tenant.revoked_key = revoked["key"]
    return tenant


NAMES = itertools.count(1)


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadedServer]:
    """One server per backend for the module (each test makes its own tenants in it)."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("mcp") / "podium.db")
        upgrade(url)
    else:
        url = request.getfixturevalue("postgres_migrated")
        asyncio.run(_truncate(url))
    # Loopback allowed: Podium's own MCP client reaches this very server.
    settings = api_settings(url, egress_allow=["127.0.0.1"], max_body_bytes=MAX_BODY)
    try:
        with threaded_server(settings) as running:
            yield running
    finally:
        egress.configure(None)


@pytest.fixture
def alice(server: ThreadedServer) -> Tenant:
    return make_tenant(server, f"alice{next(NAMES)}")


@pytest.fixture
def bob(server: ThreadedServer) -> Tenant:
    return make_tenant(server, f"bob{next(NAMES)}")


@asynccontextmanager
async def connect(
    url: str, key: str | None, mode: str = "auto", **headers: str
) -> AsyncIterator[Client]:
    """The SDK's client; `mode` "auto" speaks the 2026 protocol (server/discover) to this
    server, "legacy" the 2025 handshake (initialize)."""
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30.0) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client


def structured(result: CallToolResult) -> dict[str, Any]:
    assert result.is_error is not True, result.content
    assert isinstance(result.structured_content, dict)
    # Text-only clients read the same JSON.
    assert json.loads(result.content[0].text) == result.structured_content  # type: ignore[union-attr]
    return result.structured_content


def refusal(result: CallToolResult) -> str:
    assert result.is_error is True, result
    text: str = result.content[0].text  # type: ignore[union-attr]
    return text


# --- 1. a flow run to its end through the SDK's client ---------------------------------------


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_mcp_client_runs_the_ask_flow_answering_its_question(
    alice: Tenant, mode: str
) -> None:
    alice.rest("POST", "/flows", {**ASK_FLOW, "name": "team:ask"})  # ':' is no tool name
    async with connect(alice.mcp_url(), alice.member_key, mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert {"flow_ask", "flow_hello", "agent_chat", "answer", "wait"} <= set(tools)
        assert "flow_chat" not in tools  # chats are the agents' tools
        assert not [name for name in tools if "team" in name]
        assert set(tools["flow_ask"].input_schema["properties"]) == {"input", "wait_seconds"}
        assert tools["flow_ask"].input_schema["additionalProperties"] is False

        started = structured(await client.call_tool("flow_ask", {"input": {}, "wait_seconds": 20}))
        assert started["status"] == "interrupted", started
        question = started["pending_question"]
        assert question["question"] == "Name?" and question["kind"] == "question"
        session_id = started["session_id"]
        assert started["next"] == f"call answer with session_id {session_id!r} and your answer"

        # Answered without waiting; `wait` follows the run to its end.
        answered = structured(
            await client.call_tool(
                "answer", {"session_id": session_id, "answer": "Ada", "wait_seconds": 0}
            )
        )
        assert answered["session_id"] == session_id and answered["run_id"] == started["run_id"]
        done = structured(
            await client.call_tool("wait", {"session_id": session_id, "wait_seconds": 20})
        )
        assert done["status"] == "succeeded", done
        assert done["state"] == {"name": "Ada", "greeting": "Hi Ada"}
        assert done["pending_question"] is None and done["next"] == "done"

        # A flow with an output node: its output, at once.
        hello = structured(await client.call_tool("flow_hello", {"input": {"name": "Bo"}}))
        assert hello["status"] == "succeeded" and hello["output"] == {"greeting": "Hello, Bo!"}

    # The REST API sees the same session, answered.
    session = alice.rest("GET", f"/sessions/{session_id}")
    assert session["status"] == "completed" and session["metadata"] == {"via": "mcp"}


async def test_artifacts_and_knowledge_are_resources(alice: Tenant) -> None:
    artifact = alice.rest(
        "POST", "/artifacts", {"type": "Tracker", "initial_state": {"tasks": ["write"]}}
    )
    alice.rest(
        "POST",
        "/knowledge/guides/documents",
        {"documents": [{"key": "setup/intro", "text": "Install Podium, then serve."}]},
    )
    async with connect(alice.mcp_url(), alice.viewer_key) as client:  # a viewer reads
        listed = await client.list_resources()
        uris = [resource.uri for resource in listed.resources]
        assert uris == ["podium://knowledge/guides", f"podium://artifacts/{artifact['id']}"]
        templates = await client.list_resource_templates()
        assert [t.uri_template for t in templates.resource_templates] == [
            "podium://artifacts/{artifact_id}",
            "podium://knowledge/{namespace}",
            "podium://knowledge/{namespace}/{key}",
        ]

        read = await client.read_resource(f"podium://artifacts/{artifact['id']}")
        body = json.loads(read.contents[0].text)  # type: ignore[union-attr]
        assert body["state"] == {"tasks": ["write"]} and body["version"] == 1
        namespace = await client.read_resource("podium://knowledge/guides")
        documents = json.loads(namespace.contents[0].text)["documents"]  # type: ignore[union-attr]
        assert [d["key"] for d in documents] == ["setup/intro"]
        document = await client.read_resource("podium://knowledge/guides/setup%2Fintro")
        assert document.contents[0].text == "Install Podium, then serve."  # type: ignore[union-attr]

        with pytest.raises(MCPError) as missing:
            await client.read_resource("podium://artifacts/art_nope")
        assert missing.value.code == RESOURCE_NOT_FOUND
        assert missing.value.message == "not_found: artifact 'art_nope' does not exist"
        with pytest.raises(MCPError) as foreign:
            await client.read_resource("file:///etc/passwd")
        assert foreign.value.code == INVALID_PARAMS
        assert "is not a resource of this server" in foreign.value.message


# --- 2. Podium's own MCP client, pointed at a Podium server ----------------------------------


def test_podiums_mcp_client_lists_and_calls_a_podium_servers_tools(
    alice: Tenant, bob: Tenant
) -> None:
    # Bob's app registers alice's app (her member key) as an MCP server.
    bob.rest(
        "POST",
        "/mcp-servers",
        {
            "name": "alice",
            "transport": "http",
            "url": alice.mcp_url(),
            "headers": {"Authorization": f"Bearer {alice.member_key}"},
        },
    )
    tools = {t["name"]: t for t in bob.rest("GET", "/mcp-servers/alice/tools")}
    assert {"alice__flow_ask", "alice__flow_hello", "alice__answer", "alice__wait"} <= set(tools)
    # An agent of bob's calls alice's flow through it.
    turns = [call("alice__flow_hello", input={"name": "Bob"}), {"text": "She said hello."}]
    bob.rest("POST", "/agents", scripted("caller", turns, ["mcp:alice"]))
    answer = bob.rest("POST", "/chat/messages", {"agent": "caller", "message": "greet me"})
    assert answer["status"] == "succeeded" and answer["answer"] == "She said hello.", answer
    [row] = bob.rest("GET", f"/tool-calls?run_id={answer['run_id']}")["items"]
    assert (row["tool"], row["status"]) == ("alice__flow_hello", "ok"), row
    assert row["result"]["output"] == {"greeting": "Hello, Bob!"}
    # The session is alice's, started by her key.
    [session] = alice.rest("GET", "/sessions?flow=hello")["items"]
    assert session["state"]["greeting"] == "Hello, Bob!"


# --- 3. refusals -----------------------------------------------------------------------------


async def refused_at_connect(url: str, key: str | None, **headers: str) -> MCPError:
    """The error of a client that cannot even open its session (the SDK raises it inside an
    exception group, from its task group)."""
    try:
        async with connect(url, key, **headers) as client:
            await client.list_tools()
    except Exception as exc:
        [error] = {str(e): e for e in leaves(exc) if isinstance(e, MCPError)}.values()
        return error
    raise AssertionError("the client was let in")


async def test_strangers_are_refused_and_see_nothing_of_the_app(alice: Tenant, bob: Tenant) -> None:
    url = alice.mcp_url()
    others = await refused_at_connect(url, bob.member_key)
    assert others.code == INVALID_REQUEST
    assert others.message == f"not_found: app {alice.app_id!r} does not exist"
    assert others.data["code"] == "not_found"
    by_header = await refused_at_connect(url, None, **{"X-API-Key": bob.member_key})
    assert by_header.message == others.message
    revoked = await refused_at_connect(url, alice.revoked_key)
    assert revoked.message == "unauthorized: the API key is not valid (unknown or revoked)"
    nobody = await refused_at_connect(url, None)
    assert nobody.message == (
        "unauthorized: send 'Authorization: Bearer <access token>' or 'X-API-Key: <key>'"
    )
    garbage = await refused_at_connect(url, "not-a-token")
    assert garbage.message.startswith("unauthorized: ")
    for error in (others, by_header, revoked, nobody, garbage):
        assert "ask" not in json.dumps(error.error.model_dump()), error  # no flow, no tool

    # Bob's own endpoint holds bob's app only: alice's sessions and artifacts are not found.
    artifact = alice.rest("POST", "/artifacts", {"type": "Secret", "initial_state": {"x": 1}})
    async with connect(alice.mcp_url(), alice.member_key) as client:
        waiting = structured(await client.call_tool("flow_ask", {"wait_seconds": 20}))
    async with connect(bob.mcp_url(), bob.member_key) as client:
        for name, arguments in (
            ("wait", {"session_id": waiting["session_id"], "wait_seconds": 0}),
            ("answer", {"session_id": waiting["session_id"], "answer": "Mallory"}),
            (
                "answer",
                {
                    "session_id": waiting["session_id"],
                    "interrupt_id": waiting["pending_question"]["interrupt_id"],
                    "answer": "Mallory",
                },
            ),
        ):
            text = refusal(await client.call_tool(name, arguments))
            assert text.startswith("not_found: "), text
            assert "Name?" not in text
        with pytest.raises(MCPError) as foreign:
            await client.read_resource(f"podium://artifacts/{artifact['id']}")
        assert foreign.value.code == RESOURCE_NOT_FOUND
        assert [r.uri for r in (await client.list_resources()).resources] == []
    session = alice.rest("GET", f"/sessions/{waiting['session_id']}")
    assert session["status"] == "waiting"  # still waiting for alice's answer


async def test_a_viewer_reads_but_cannot_start_or_answer(alice: Tenant) -> None:
    async with connect(alice.mcp_url(), alice.member_key) as member:
        waiting = structured(await member.call_tool("flow_ask", {"wait_seconds": 20}))
    async with connect(alice.mcp_url(), alice.viewer_key) as viewer:
        assert "flow_ask" in [tool.name for tool in (await viewer.list_tools()).tools]
        assert refusal(await viewer.call_tool("flow_ask", {})) == (
            "forbidden: to start a flow needs the member role in the app; you are viewer"
        )
        assert refusal(await viewer.call_tool("agent_chat", {"message": "hi"})) == (
            "forbidden: to talk to an agent needs the member role in the app; you are viewer"
        )
        session_id = waiting["session_id"]
        assert refusal(
            await viewer.call_tool("answer", {"session_id": session_id, "answer": "x"})
        ) == ("forbidden: to answer a question needs the member role in the app; you are viewer")
        seen = structured(
            await viewer.call_tool("wait", {"session_id": session_id, "wait_seconds": 0})
        )
        assert seen["status"] == "interrupted" and seen["pending_question"]["question"] == "Name?"
    assert len(alice.rest("GET", "/sessions")["items"]) == 1  # the viewer started nothing


async def test_bad_arguments_get_clear_errors(alice: Tenant) -> None:
    async with connect(alice.mcp_url(), alice.member_key) as client:
        with pytest.raises(MCPError) as unknown:
            await client.call_tool("drop_tables", {})
        assert unknown.value.code == INVALID_PARAMS
        assert unknown.value.message == "no tool named 'drop_tables'; tools/list names the tools"

        cases: list[tuple[str, dict[str, Any], str]] = [
            (
                "flow_nope",
                {},
                "not_found: no flow named 'nope' in this app; register it with POST /flows",
            ),
            (
                "flow_ask",
                {"input": [1, 2]},
                "invalid_input: the arguments of flow_ask are not valid: input: Input should "
                "be a valid dictionary",
            ),
            (
                "flow_ask",
                {"inputs": {}},
                "invalid_input: the arguments of flow_ask are not valid: inputs: Extra inputs "
                "are not permitted",
            ),
            (
                "flow_ask",
                {"wait_seconds": 301},
                "invalid_input: the arguments of flow_ask are not valid: wait_seconds: Input "
                "should be less than or equal to 300",
            ),
            (
                "wait",
                {"session_id": "../../etc"},
                "invalid_input: the arguments of wait are not valid: session_id: String should "
                "match pattern '^[A-Za-z0-9_]+$'",
            ),
            (
                "wait",
                {"session_id": "ses_nope"},
                "not_found: session 'ses_nope' does not exist",
            ),
            (
                "answer",
                {"answer": "x"},
                "invalid_input: the arguments of answer are not valid: session_id: Field required",
            ),
            (
                "agent_nobody",
                {"message": "hi"},
                "not_found: no agent named 'nobody' in this app; define it with POST /agents or "
                "use a built-in one: ['chat', 'creator', 'digital_marketing', 'driver', "
                "'generator', 'guide', 'lead_qualification', 'recommendations', "
                "'web_development']",
            ),
        ]
        for name, arguments, expected in cases:
            assert refusal(await client.call_tool(name, arguments)) == expected, name

        # Deeper than the JSON boundary allows, or larger than a body may be: refused before
        # anything runs, as a JSON-RPC error that says why.
        deep: Any = "bottom"
        for _ in range(80):
            deep = {"d": deep}
        with pytest.raises(MCPError) as too_deep:
            await client.call_tool("flow_ask", {"input": deep})
        assert too_deep.value.code == INVALID_REQUEST
        assert too_deep.value.message.startswith("json_invalid: the request body at $.params")
        assert "nested deeper than 64 levels" in too_deep.value.message
        with pytest.raises(MCPError) as too_large:
            await client.call_tool("flow_ask", {"input": {"text": "x" * MAX_BODY}})
        assert too_large.value.message == (
            f"payload_too_large: the request body is over the limit of {MAX_BODY} bytes "
            "(PODIUM_MAX_BODY_BYTES)"
        )
    assert alice.rest("GET", "/sessions")["items"] == []  # nothing was started


def test_rest_callers_get_the_envelope_and_mcp_is_rate_limited(database_url: str) -> None:
    settings = api_settings(database_url, rate_limit="4/minute")
    with threaded_server(settings, workers=0) as server:
        owner = server.login("olive")
        app_id = owner.create_app("limited")
        with owner.client() as client:
            key = client.post(f"/api/v1/apps/{app_id}/api-keys", json={"name": "k"}).json()["key"]
        url = f"{server.url}/api/v1/apps/{app_id}/mcp"
        listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        # The limiter's windows are the clock's minutes, and across a boundary its sliding
        # count lets a request through early: the key's requests all fall in one minute.
        left = 60 - time.time() % 60
        if left < 20:
            time.sleep(left + 0.1)
        with server.client(headers={"Authorization": f"Bearer {key}"}) as client:
            # A caller that is not an MCP client (no text/event-stream) gets JSON-RPC answers
            # from the SDK and Podium's envelope for Podium's refusals.
            tools = client.post(url, json=listing)
            assert tools.status_code == 200, tools.text
            assert "flow_hello" in [t["name"] for t in tools.json()["result"]["tools"]]
            # Stateless: no stream to GET, no session to DELETE.
            assert client.get(url).status_code == 405
            assert client.delete(url).status_code == 405
            stranger = client.post(url.replace(app_id, "app_nope"), json=listing)
            assert stranger.status_code == 404
            assert stranger.json()["error"]["message"] == "app 'app_nope' does not exist"
            long_id = client.post(url.replace(app_id, "app_" + "x" * 100), json=listing)
            assert long_id.json()["error"]["message"] == (
                "app does not exist (an app id has at most 80 characters)"
            )
            mcp = {"Accept": "application/json, text/event-stream"}
            responses = [client.post(url, json=listing, headers=mcp) for _ in range(3)]
        # The fifth request of the key in the minute (the strangers' counted too; the 405s
        # never reached the endpoint) is refused.
        assert [r.status_code for r in responses] == [200, 429, 429]
        limited = responses[-1]
        assert limited.headers["Retry-After"]
        error = limited.json()["error"]
        assert error["code"] == INVALID_REQUEST and error["data"]["code"] == "rate_limited"
        assert error["message"].startswith(
            "rate_limited: too many requests: the limit is 4 per 1 minute (PODIUM_RATE_LIMIT)"
        )


# --- the SDK starts on the first request ------------------------------------------------------


def test_concurrent_first_requests_start_the_sdk_once_and_the_server_stops_cleanly(
    tmp_path: Any,
) -> None:
    """A fresh server has not loaded the MCP SDK; several MCP clients arriving together all get
    their answers (one session manager is started, under a lock), and the server then stops
    (the manager's task ends with the lifespan)."""
    url = sqlite_url(tmp_path / "podium.db")
    upgrade(url)
    with threaded_server(api_settings(url)) as fresh:
        tenant = make_tenant(fresh, "first")

        async def tools() -> set[str]:
            async with connect(tenant.mcp_url(), tenant.member_key) as client:
                return {tool.name for tool in (await client.list_tools()).tools}

        async def together() -> list[set[str]]:
            return await asyncio.gather(*(tools() for _ in range(5)))

        answers = asyncio.run(together())
        assert all({"flow_ask", "answer", "wait"} <= names for names in answers), answers
        mcp_path = "/api/v1/apps/{app_id}/mcp"
        routes = fresh.app.router.routes
        endpoint = next(r.endpoint for r in routes if getattr(r, "path", "") == mcp_path)
        assert endpoint._task is not None and not endpoint._task.done()
    assert endpoint._task.done() and endpoint._task.exception() is None
