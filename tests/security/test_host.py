"""Finding 1: command execution on the host through an MCP stdio server.

Mallory signs up, owns an app, and registers an MCP server with `transport: stdio` and a
command of her choosing; listing its tools used to start the program as the server's user,
its stderr quoted back. Now an app may register only streamable HTTP servers: the stdio
registration is refused (422) and nothing is stored or started. Stdio servers come from the
operator's file (`PODIUM_MCP_STDIO_SERVERS_FILE`) and only a platform admin enables one for an
app; a server's stderr goes to the server's log, never into an answer.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.api.live import LiveServer
from tests.security.conftest import Tenant, security_env

from podium.config import Settings
from podium.storage import agents as tx
from podium.storage.store import open_store
from support.mcp_server import SCRIPT

STDERR_SECRET = "stderr-secret-of-the-operator-server"


@pytest.fixture
def live_env(tmp_path: Path) -> dict[str, str]:
    """The operator offers the test MCP server (`demo`) and one that writes to stderr and
    exits (`crashy`)."""
    offered = {
        "demo": {"command": sys.executable, "args": [str(SCRIPT)]},
        "crashy": {
            "command": sys.executable,
            "args": ["-c", f"import sys; print('{STDERR_SECRET}', file=sys.stderr); sys.exit(3)"],
        },
    }
    path = tmp_path / "stdio-servers.json"
    path.write_text(json.dumps(offered))
    return security_env(PODIUM_MCP_STDIO_SERVERS_FILE=str(path))


def pwn_command(marker: Path) -> dict[str, Any]:
    """A stdio "MCP server" that would create `marker` and print a secret to stderr."""
    script = (
        f"import pathlib, sys; pathlib.Path({str(marker)!r}).write_text('pwned'); "
        "print('leaked-environment', file=sys.stderr)"
    )
    return {"name": "pwn", "transport": "stdio", "command": sys.executable, "args": ["-c", script]}


def test_a_tenant_cannot_register_a_stdio_server(make_tenant: Any, tmp_path: Path) -> None:
    mallory: Tenant = make_tenant("mallory")
    marker = tmp_path / "pwned"

    status, body = mallory.request("POST", "/apps/{app}/mcp-servers", pwn_command(marker))

    assert status == 422, body
    assert body["error"]["code"] == "not_allowed"
    assert body["error"]["message"] == (
        "MCP server 'pwn': an app may register only streamable HTTP MCP servers (transport "
        "'http' with a url); stdio servers come from the operator: the ones listed in "
        "PODIUM_MCP_STDIO_SERVERS_FILE, which a platform admin enables for an app"
    )
    # Nothing stored, nothing started, even when its tools are asked for.
    assert mallory.call("GET", "/apps/{app}/mcp-servers") == []
    status, body = mallory.request("GET", "/apps/{app}/mcp-servers/pwn/tools")
    assert status == 404, body
    assert mallory.call("GET", "/apps/{app}/agents/health")["mcp_servers"] == []
    time.sleep(0.5)
    assert not marker.exists()


def test_an_api_key_cannot_register_one_either(
    make_tenant: Any, live: LiveServer, tmp_path: Path
) -> None:
    mallory: Tenant = make_tenant("mallory")
    key = mallory.call("POST", "/apps/{app}/api-keys", {"name": "ci", "role": "admin"})["key"]
    marker = tmp_path / "pwned"
    status, body = live.request(
        "POST",
        f"/apps/{mallory.app_id}/mcp-servers",
        pwn_command(marker),
        headers={"X-API-Key": key},
    )
    assert (status, body["error"]["code"]) == (422, "not_allowed"), body
    assert mallory.call("GET", "/apps/{app}/mcp-servers") == []
    assert not marker.exists()


def test_only_a_platform_admin_enables_the_operators_servers(
    make_tenant: Any, live: LiveServer, admin_token: str
) -> None:
    mallory: Tenant = make_tenant("mallory")
    path = f"/apps/{mallory.app_id}/mcp-servers/tools/stdio"

    status, body = mallory.request("PUT", path, {"server": "demo"})
    assert status == 403, body
    assert body["error"]["message"] == "this is for platform administrators (is_admin)"
    assert mallory.call("GET", "/apps/{app}/mcp-servers") == []

    enabled = live.call("PUT", path, {"server": "demo"}, admin_token)
    assert enabled["config"] == {"name": "tools", "transport": "stdio", "operator_server": "demo"}
    tools = mallory.call("GET", "/apps/{app}/mcp-servers/tools/tools")
    assert {t["name"] for t in tools} >= {"tools__add", "tools__shout"}


def test_a_servers_stderr_stays_in_the_servers_log(
    make_tenant: Any, live: LiveServer, admin_token: str
) -> None:
    mallory: Tenant = make_tenant("mallory")
    live.call(
        "PUT", f"/apps/{mallory.app_id}/mcp-servers/crashy/stdio", {"server": "crashy"}, admin_token
    )

    status, body = mallory.request("GET", "/apps/{app}/mcp-servers/crashy/tools")
    assert status == 400, body
    assert body["error"]["message"] == (
        "could not start MCP server 'crashy': the server's log says why (ask the operator)"
    )
    [health] = mallory.call("GET", "/apps/{app}/agents/health")["mcp_servers"]
    assert health == {"name": "crashy", "reachable": False, "detail": body["error"]["message"]}
    assert STDERR_SECRET in live.output()  # the operator can read it


def test_a_stdio_server_stored_before_the_upgrade_is_never_started(
    make_tenant: Any, live: LiveServer, tmp_path: Path
) -> None:
    """A row a tenant stored while stdio was still open to apps is refused when used."""
    mallory: Tenant = make_tenant("mallory")
    marker = tmp_path / "pwned"
    legacy = {k: v for k, v in pwn_command(marker).items()}

    async def store_row() -> None:
        store = open_store(live.database_url or f"sqlite:///{live.db}", Settings())
        await store.open(migrate=False)
        try:
            await store.run_script(lambda: tx.put_mcp_server(mallory.app_id, "pwn", legacy, 0.0))
        finally:
            await store.close()

    asyncio.run(store_row())
    status, body = mallory.request("GET", "/apps/{app}/mcp-servers/pwn/tools")
    assert status == 400, body
    assert body["error"]["message"].startswith(
        "MCP server 'pwn' is a stdio server registered by an app, which Podium does not start"
    )
    [health] = mallory.call("GET", "/apps/{app}/agents/health")["mcp_servers"]
    assert health["reachable"] is False
    time.sleep(0.5)
    assert not marker.exists()
