"""What an app may register (streamable HTTP only), the operator's stdio servers (a JSON or
YAML file) and how an app's stored server resolves to a configuration; an HTTP server passes
the egress policy."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from podium import egress
from podium.config import Settings
from podium.errors import InvalidInput, NotAllowed
from podium.tools.mcp import MCPConnections, MCPServerUnavailable
from podium.tools.mcp_config import (
    MCPServerConfig,
    operator_reference,
    operator_servers,
    stored_config,
    tenant_config,
)
from support.mcp_server import SCRIPT, free_port, read_calls, start_http_server

OPERATOR = {
    "demo": {
        "command": sys.executable,
        "args": [str(SCRIPT)],
        "env": {"MCP_CALL_LOG": "{log}"},
        "timeout_seconds": 20,
    }
}


@pytest.fixture
def operator_file(tmp_path: Path) -> Path:
    path = tmp_path / "stdio.json"
    text = json.dumps(OPERATOR).replace("{log}", str(tmp_path / "calls.jsonl"))
    path.write_text(text)
    return path


@pytest.fixture
async def manager() -> AsyncIterator[MCPConnections]:
    made = MCPConnections()
    try:
        yield made
    finally:
        await made.close()


def test_an_app_may_not_register_a_stdio_server(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data = {"name": "evil", "transport": "stdio", "command": "touch", "args": [str(marker)]}
    with pytest.raises(NotAllowed) as caught:
        tenant_config(data)
    assert caught.value.message.startswith(
        "MCP server 'evil': an app may register only streamable HTTP MCP servers"
    )
    assert "stdio servers come from the operator" in caught.value.message
    assert caught.value.details == {"setting": "PODIUM_MCP_STDIO_SERVERS_FILE"}
    with pytest.raises(NotAllowed):  # no transport means stdio: refused as well
        tenant_config({"name": "evil", "command": "touch"})
    http = tenant_config({"name": "web", "transport": "http", "url": "https://mcp.example/mcp"})
    assert http.transport == "http"


def test_the_operator_file_in_json_and_yaml(tmp_path: Path, operator_file: Path) -> None:
    offered = operator_servers(str(operator_file))
    assert sorted(offered) == ["demo"]
    assert (offered["demo"].command, offered["demo"].transport) == (sys.executable, "stdio")

    yaml_file = tmp_path / "stdio.yaml"
    yaml_file.write_text("files:\n  command: npx\n  args: ['-y', 'files-server']\n  cwd: /srv\n")
    files = operator_servers(str(yaml_file))["files"]
    assert (files.command, files.args, files.cwd) == ("npx", ("-y", "files-server"), "/srv")
    assert operator_servers(None) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "must map server names to"),
        ('{"x": {"url": "http://a"}}', "unknown field(s) ['url']"),
        ('{"x": {"args": []}}', "needs a command"),
        ('{"Bad Name": {"command": "x"}}', "is not valid"),
        ("{not json", "is not valid JSON or YAML"),
    ],
)
def test_a_bad_operator_file_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InvalidInput) as caught:
        operator_servers(str(path))
    assert caught.value.message.startswith(f"PODIUM_MCP_STDIO_SERVERS_FILE={path}")
    assert message in caught.value.message


def test_a_stored_server_resolves_to_the_operators_command(operator_file: Path) -> None:
    offered = operator_servers(str(operator_file))
    reference = operator_reference("tools", "demo", 5.0)
    assert reference == {
        "name": "tools",
        "transport": "stdio",
        "operator_server": "demo",
        "timeout_seconds": 5.0,
    }
    config = stored_config(reference, offered, "app_1")
    assert (config.name, config.command, config.timeout_seconds) == ("tools", sys.executable, 5)
    # One session per app: the same operator server in two apps is two configurations.
    assert config != stored_config(reference, offered, "app_2")

    with pytest.raises(MCPServerUnavailable, match="no longer offered"):
        stored_config(operator_reference("tools", "gone", None), offered, "app_1")
    # A stdio server an app stored before stdio became the operator's is never started.
    legacy = {"name": "old", "transport": "stdio", "command": "touch", "args": ["/tmp/x"]}
    with pytest.raises(MCPServerUnavailable, match="registered by an app, which Podium does not"):
        stored_config(legacy, offered, "app_1")


async def test_an_operator_server_runs_once_per_app(
    manager: MCPConnections, operator_file: Path, tmp_path: Path
) -> None:
    offered = operator_servers(str(operator_file))
    reference = operator_reference("tools", "demo", None)
    for app_id in ("app_1", "app_2"):
        tools = await manager.tools(stored_config(reference, offered, app_id))
        add = next(t for t in tools if t.name == "tools__add")
        assert (await add.invoke_fn({"a": 1, "b": 2}, None)) == {"result": 3}  # type: ignore[arg-type]
    pids = {call["pid"] for call in read_calls(tmp_path / "calls.jsonl")}
    assert len(pids) == 2


async def test_an_http_server_on_loopback_is_refused_unless_allowed(
    manager: MCPConnections, tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"
    with start_http_server(free_port(), log) as url:
        config = MCPServerConfig(name="local", transport="http", url=url, timeout_seconds=10)
        egress.configure(Settings(egress_allow=[]))
        ok, detail = await manager.health(config)
        assert not ok
        host = "127.0.0.1"
        assert detail == (
            f"could not connect to MCP server 'local' at {url}: outbound request to {host} "
            f"refused: loopback address; allow it with PODIUM_EGRESS_ALLOW={host}"
        )
        with pytest.raises(MCPServerUnavailable, match="refused: loopback address"):
            await manager.tools(config)
        assert read_calls(log) == []

        egress.configure(Settings(egress_allow=["127.0.0.1"]))
        ok, detail = await manager.health(config)
        assert ok, detail
