"""Finding 8: revocation did not reach open streams. An API key revoked, a member removed, a
user deleted or a login logged out while a WebSocket and an SSE stream are open: the socket is
closed with 4003 and a reason, the stream ends with an `error` event, within a few seconds;
the credential is refused from then on, and nothing it sent afterwards was stored."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from tests.api.live import PASSWORD, LiveServer
from tests.security.conftest import Tenant, security_env
from tests.security.live_streams import OpenSocket, OpenStream

from podium.config import Settings
from podium.storage import accounts
from podium.storage.store import open_store

RECHECK_SECONDS = 2
PROMPTLY = 3.0  # seconds: a revocation in the server's own process wakes its streams at once


@pytest.fixture
def live_env() -> dict[str, str]:
    return security_env(PODIUM_STREAM_RECHECK_SECONDS=str(RECHECK_SECONDS))


def sessions_of(tenant: Tenant) -> list[Any]:
    return list(tenant.call("GET", "/apps/{app}/sessions")["items"])


async def in_thread(tenant: Tenant, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A call of `tenant` that does not hold up the event loop reading the streams."""
    result: tuple[int, Any] = await asyncio.to_thread(tenant.request, method, path, body)
    return result


async def test_a_revoked_api_key_closes_its_websocket_and_ends_its_sse_stream(
    make_tenant: Any,
) -> None:
    mallory: Tenant = make_tenant("mallory")
    key = mallory.call("POST", "/apps/{app}/api-keys", {"name": "leaked", "role": "member"})
    socket = await OpenSocket.open(mallory.server, f"api_key={key['key']}", mallory.app_id)
    stream = await OpenStream.open(mallory.server, {"X-API-Key": key["key"]}, mallory.app_id)

    status, _ = await in_thread(mallory, "DELETE", f"/apps/{{app}}/api-keys/{key['id']}")
    assert status == 204
    end = await socket.closed_within(10)
    assert (end.code, end.reason) == (4003, "the API key was revoked"), end
    assert end.seconds < PROMPTLY, end
    assert await stream.ended_within(10) < PROMPTLY
    error = stream.error()
    assert (error["code"], error["message"]) == ("forbidden", "the API key was revoked")

    # The key is refused everywhere now, and it started nothing.
    status, body = mallory.server.request(
        "POST",
        f"/apps/{mallory.app_id}/sessions",
        {"flow": "hello", "input": {}},
        headers={"X-API-Key": key["key"]},
    )
    assert status == 401 and "revoked" in body["error"]["message"]
    assert sessions_of(mallory) == []


async def test_a_removed_member_loses_the_apps_websocket_and_sse_stream(
    make_tenant: Any,
) -> None:
    alice: Tenant = make_tenant("alice")
    bob: Tenant = make_tenant("bob")
    status, invitation = alice.request("POST", "/apps/{app}/members", {"user": "bob"})
    assert status == 202, invitation
    bob.call("POST", f"/invitations/{invitation['id']}/accept")
    bob_id = bob.call("GET", "/auth/me")["id"]
    socket = await OpenSocket.open(bob.server, f"token={bob.token}", alice.app_id)
    bearer = {"Authorization": f"Bearer {bob.token}"}
    stream = await OpenStream.open(bob.server, bearer, alice.app_id)

    status, _ = await in_thread(alice, "DELETE", f"/apps/{{app}}/members/{bob_id}")
    assert status == 204
    end = await socket.closed_within(10)
    assert end.code == 4003 and f"access to app {alice.app_id} was withdrawn" in end.reason, end
    assert end.seconds < PROMPTLY
    assert await stream.ended_within(10) < PROMPTLY
    assert "was withdrawn" in stream.error()["message"]

    assert bob.request("GET", f"/apps/{alice.app_id}")[0] == 404
    status, _ = bob.request("POST", f"/apps/{alice.app_id}/sessions", {"flow": "hello"})
    assert status == 404
    assert sessions_of(alice) == []


async def test_logout_refuses_the_access_token_and_closes_its_streams(
    live: LiveServer, make_tenant: Any
) -> None:
    mallory: Tenant = make_tenant("mallory")
    pair = live.call("POST", "/auth/login", {"identifier": "mallory", "password": PASSWORD})
    access = pair["access_token"]
    assert live.request("GET", "/auth/me", token=access)[0] == 200
    socket = await OpenSocket.open(live, f"token={access}", mallory.app_id)
    stream = await OpenStream.open(live, {"Authorization": f"Bearer {access}"}, mallory.app_id)

    logout = await asyncio.to_thread(
        live.request, "POST", "/auth/logout", {"refresh_token": pair["refresh_token"]}
    )
    assert logout[0] == 204
    end = await socket.closed_within(10)
    assert end.code == 4003 and "logged out" in end.reason, end
    assert end.seconds < PROMPTLY
    assert await stream.ended_within(10) < PROMPTLY
    assert "logged out" in stream.error()["message"]

    # The access token of that login is refused at once, though it has not expired.
    status, body = live.request("GET", "/auth/me", token=access)
    assert status == 401
    assert body["error"]["message"] == (
        "this login was logged out (or its password changed); log in again"
    )
    status, _ = live.request("POST", "/apps", {"name": "after-logout"}, token=access)
    assert status == 401
    assert [a["name"] for a in mallory.call("GET", "/apps")["items"]] == ["mallory-app"]
    # The tenant's other login still works.
    assert mallory.request("GET", "/auth/me")[0] == 200


async def test_a_deleted_users_socket_is_closed(
    live: LiveServer, admin_token: str, make_tenant: Any
) -> None:
    mallory: Tenant = make_tenant("mallory")
    mallory_id = mallory.call("GET", "/auth/me")["id"]
    socket = await OpenSocket.open(live, f"token={mallory.token}", mallory.app_id)

    deleted = await asyncio.to_thread(
        live.request, "DELETE", f"/users/{mallory_id}", None, admin_token
    )
    assert deleted[0] == 204
    end = await socket.closed_within(10)
    assert (end.code, end.reason) == (4003, "the user was deleted"), end
    assert end.seconds < PROMPTLY
    assert mallory.request("GET", "/auth/me")[0] == 401


async def _revoke_key_from_another_process(database_url: str, app_id: str, key_id: str) -> None:
    store = open_store(database_url, Settings(database_url=database_url))
    await store.open(migrate=False)
    try:
        await store.run_script(lambda: accounts.revoke_api_key(app_id, key_id, time.time()))
    finally:
        await store.close()


async def test_a_revocation_by_another_process_is_seen_on_the_next_message_or_check(
    make_tenant: Any, database_url: str
) -> None:
    # Another API process (or an operator's script) revokes the key in the shared database:
    # no signal reaches this server; its streams find out on their next message, or at the
    # latest after PODIUM_STREAM_RECHECK_SECONDS.
    mallory: Tenant = make_tenant("mallory")
    app = "/apps/{app}/api-keys"
    keys = [mallory.call("POST", app, {"name": f"k{n}", "role": "member"}) for n in (1, 2)]
    talking = await OpenSocket.open(mallory.server, f"api_key={keys[0]['key']}", mallory.app_id)
    idle = await OpenSocket.open(mallory.server, f"api_key={keys[1]['key']}", mallory.app_id)

    for key in keys:
        await _revoke_key_from_another_process(database_url, mallory.app_id, key["id"])
    # The next message is checked before it is acted on: no run starts.
    await talking.send("execution.start", {"app_id": mallory.app_id, "flow": "hello"}, "go")
    end = await talking.closed_within(10)
    assert (end.code, end.reason) == (4003, "the API key was revoked"), end
    assert not [m for m in talking.messages if m["type"] == "execution.started"]
    # The silent socket is closed by the periodic check.
    end = await idle.closed_within(RECHECK_SECONDS + 5)
    assert (end.code, end.reason) == (4003, "the API key was revoked"), end
    assert end.seconds < RECHECK_SECONDS + PROMPTLY
    assert sessions_of(mallory) == []


async def test_a_revoked_api_key_is_refused_at_the_next_mcp_request(make_tenant: Any) -> None:
    """The MCP endpoint is stateless: every request is authenticated anew, so a client that
    holds its session open loses it at its next call after the key is revoked."""
    mallory: Tenant = make_tenant("mallory")
    key = mallory.call("POST", "/apps/{app}/api-keys", {"name": "leaked", "role": "member"})
    url = f"{mallory.server.url}/apps/{mallory.app_id}/mcp"
    headers = {"Authorization": f"Bearer {key['key']}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30.0) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        first = await client.call_tool("flow_hello", {"input": {"name": "Mallory"}})
        assert first.is_error is not True, first
        status, _ = await in_thread(mallory, "DELETE", f"/apps/{{app}}/api-keys/{key['id']}")
        assert status == 204
        with pytest.raises(MCPError) as refused:
            await client.call_tool("flow_hello", {"input": {"name": "again"}})
        assert refused.value.message == (
            "unauthorized: the API key is not valid (unknown or revoked)"
        )
    assert len(sessions_of(mallory)) == 1  # the call after the revocation started nothing
