"""MCP servers' tools through `MCPConnections`, against tests/support/mcp_server.py."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from mcp_types import CallToolResult, ImageContent, TextContent

from podium.errors import InvalidInput
from podium.tools.base import NAME_PATTERN, ToolContext
from podium.tools.mcp import (
    MCPConnections,
    MCPServerConfig,
    MCPServerUnavailable,
    MCPToolError,
    close_connections,
    connections,
    result_value,
    tool_name,
)
from support.mcp_server import SCRIPT, free_port, read_calls, start_http_server

pytestmark = pytest.mark.slow
CTX = ToolContext(app_id="app_test")


def mcp_children() -> list[psutil.Process]:
    """This process's children, but for the template render processes (engine/template_pool),
    which earlier tests in the same process may have started and which outlive a test."""
    children = []
    for child in psutil.Process().children(recursive=True):
        try:
            if not any("templating.py" in part for part in child.cmdline()):
                children.append(child)
        except psutil.NoSuchProcess:
            continue
    return children


@pytest.fixture
def call_log(tmp_path: Path) -> Path:
    return tmp_path / "calls.jsonl"


@pytest.fixture
def stdio_config(call_log: Path) -> MCPServerConfig:
    return MCPServerConfig(
        name="demo",
        transport="stdio",
        command=sys.executable,
        args=(str(SCRIPT),),
        env=(("MCP_CALL_LOG", str(call_log)),),
        timeout_seconds=20,
    )


@pytest.fixture
async def manager() -> AsyncIterator[MCPConnections]:
    made = MCPConnections()
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
def http_url(call_log: Path) -> Iterator[str]:
    with start_http_server(free_port(), call_log) as url:
        yield url


def server_pids(call_log: Path) -> set[int]:
    return {call["pid"] for call in read_calls(call_log)}


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# --- stdio ---------------------------------------------------------------------------------


async def test_stdio_lists_tools_as_podium_tools(
    manager: MCPConnections, stdio_config: MCPServerConfig
) -> None:
    tools = {t.name: t for t in await manager.tools(stdio_config)}

    assert sorted(tools) == ["demo__add", "demo__fail", "demo__shout", "demo__sleep"]
    add = tools["demo__add"]
    assert add.source == "mcp:demo"
    assert add.description == "Add two integers."
    assert add.parameters["type"] == "object"
    assert add.parameters["required"] == ["a", "b"]
    assert {k: v["type"] for k, v in add.parameters["properties"].items()} == {
        "a": "integer",
        "b": "integer",
    }
    assert tools["demo__shout"].parameters["properties"]["text"]["type"] == "string"
    assert add.spec().name == "demo__add"


async def test_stdio_call_returns_the_result_and_reaches_the_server(
    manager: MCPConnections, stdio_config: MCPServerConfig, call_log: Path
) -> None:
    tools = {t.name: t for t in await manager.tools(stdio_config)}

    outcome = await tools["demo__add"].execute('{"a": 2, "b": 3}', CTX)
    assert outcome.status == "ok", outcome.error
    assert outcome.result == {"result": 5}  # MCPServer wraps a plain int as structured content
    assert await manager.call(stdio_config, "add", {"a": 40, "b": 2}) == {"result": 42}
    shouted = await tools["demo__shout"].execute('{"text": "hello"}', CTX)
    assert shouted.result == {"result": "HELLO!"}

    calls = read_calls(call_log)
    assert [(c["tool"], c["arguments"]) for c in calls] == [
        ("add", {"a": 2, "b": 3}),
        ("add", {"a": 40, "b": 2}),
        ("shout", {"text": "hello"}),
    ]
    assert len(server_pids(call_log)) == 1  # one session served them all


async def test_a_failing_tool_is_an_error_outcome_with_the_servers_text(
    manager: MCPConnections, stdio_config: MCPServerConfig, call_log: Path
) -> None:
    tools = {t.name: t for t in await manager.tools(stdio_config)}

    outcome = await tools["demo__fail"].execute("{}", CTX)

    assert outcome.status == "error"
    assert outcome.error is not None
    assert "the fail tool always fails" in outcome.error
    assert outcome.for_model().startswith("error: ")
    assert [c["tool"] for c in read_calls(call_log)] == ["fail"]
    with pytest.raises(MCPToolError, match="the fail tool always fails"):
        await manager.call(stdio_config, "fail", {})
    # The session is fine after a tool error.
    assert await manager.call(stdio_config, "add", {"a": 1, "b": 1}) == {"result": 2}


async def test_calls_run_concurrently_on_one_session(
    manager: MCPConnections, stdio_config: MCPServerConfig, call_log: Path
) -> None:
    finished: list[str] = []

    async def call(name: str, arguments: dict[str, Any]) -> Any:
        result = await manager.call(stdio_config, name, arguments)
        finished.append(name)
        return result

    results = await asyncio.gather(
        call("sleep", {"seconds": 1}),
        *(call("add", {"a": i, "b": i}) for i in range(5)),
    )

    assert results == [{"result": "slept"}, *({"result": 2 * i} for i in range(5))]
    assert finished == ["add"] * 5 + ["sleep"]  # the adds did not wait for the sleep
    assert len(server_pids(call_log)) == 1


async def test_a_timed_out_call_is_an_error_and_the_session_goes_on(
    manager: MCPConnections, call_log: Path
) -> None:
    config = MCPServerConfig(
        name="slow",
        command=sys.executable,
        args=(str(SCRIPT),),
        env=(("MCP_CALL_LOG", str(call_log)),),
        timeout_seconds=1,
    )
    tools = {t.name: t for t in await manager.tools(config)}

    outcome = await tools["slow__sleep"].execute('{"seconds": 10}', CTX)

    assert outcome.status == "error"
    assert "timeout of 1s" in (outcome.error or "")
    assert await manager.call(config, "add", {"a": 1, "b": 2}) == {"result": 3}
    with pytest.raises(TimeoutError, match="did not answer sleep within 1s"):
        await manager.call(config, "sleep", {"seconds": 10})
    assert len(server_pids(call_log)) == 1


async def test_the_tool_list_is_cached(
    stdio_config: MCPServerConfig,
) -> None:
    cached = MCPConnections()
    uncached = MCPConnections(tools_ttl=0)
    try:
        first = await cached.tools(stdio_config)
        again = await cached.tools(stdio_config)
        assert [a is b for a, b in zip(first, again, strict=True)] == [True] * len(first)

        fresh = await uncached.tools(stdio_config)
        relisted = await uncached.tools(stdio_config)
        assert not any(a is b for a, b in zip(fresh, relisted, strict=True))
        assert [t.name for t in fresh] == [t.name for t in relisted]
    finally:
        await cached.close()
        await uncached.close()


async def test_a_dead_server_is_restarted_once(
    manager: MCPConnections, stdio_config: MCPServerConfig, call_log: Path
) -> None:
    assert await manager.call(stdio_config, "add", {"a": 1, "b": 2}) == {"result": 3}
    (first_pid,) = server_pids(call_log)
    os.kill(first_pid, signal.SIGKILL)
    for _ in range(200):
        if gone(first_pid):
            break
        await asyncio.sleep(0.01)

    assert await manager.call(stdio_config, "add", {"a": 2, "b": 2}) == {"result": 4}

    pids = [c["pid"] for c in read_calls(call_log)]
    assert pids[0] == first_pid
    assert pids[1] != first_pid


async def test_close_stops_every_server_process(
    stdio_config: MCPServerConfig, call_log: Path, tmp_path: Path
) -> None:
    other_log = tmp_path / "other.jsonl"
    other = MCPServerConfig(
        name="other",
        command=sys.executable,
        args=(str(SCRIPT),),
        env=(("MCP_CALL_LOG", str(other_log)),),
    )
    made = MCPConnections()
    await made.call(stdio_config, "add", {"a": 1, "b": 2})
    await made.call(other, "shout", {"text": "x"})
    pids = server_pids(call_log) | server_pids(other_log)
    assert len(pids) == 2
    assert not any(gone(pid) for pid in pids)

    await made.close()

    assert all(gone(pid) for pid in pids)
    assert mcp_children() == []
    # Usable again after close: a new session.
    try:
        assert await made.call(stdio_config, "add", {"a": 2, "b": 3}) == {"result": 5}
        assert len(server_pids(call_log)) == 2
    finally:
        await made.close()
    assert mcp_children() == []


async def test_disconnect_ends_one_session(
    manager: MCPConnections, stdio_config: MCPServerConfig, call_log: Path
) -> None:
    await manager.call(stdio_config, "add", {"a": 1, "b": 2})
    (pid,) = server_pids(call_log)

    await manager.disconnect(stdio_config)

    assert gone(pid)


async def test_the_default_instance(stdio_config: MCPServerConfig, call_log: Path) -> None:
    assert connections() is connections()
    try:
        assert await connections().call(stdio_config, "add", {"a": 3, "b": 4}) == {"result": 7}
    finally:
        await close_connections()
    assert all(gone(pid) for pid in server_pids(call_log))


# --- streamable HTTP -----------------------------------------------------------------------


async def test_http_lists_and_calls(manager: MCPConnections, http_url: str, call_log: Path) -> None:
    config = MCPServerConfig(
        name="remote", transport="http", url=http_url, headers=(("X-Test", "yes"),)
    )

    tools = {t.name: t for t in await manager.tools(config)}
    assert sorted(tools) == ["remote__add", "remote__fail", "remote__shout", "remote__sleep"]
    assert tools["remote__add"].source == "mcp:remote"

    outcome = await tools["remote__add"].execute('{"a": 2, "b": 3}', CTX)
    assert outcome.status == "ok", outcome.error
    assert outcome.result == {"result": 5}
    failed = await tools["remote__fail"].execute("{}", CTX)
    assert failed.status == "error"
    assert "the fail tool always fails" in (failed.error or "")
    assert [c["tool"] for c in read_calls(call_log)] == ["add", "fail"]
    assert await manager.health(config) == (
        True,
        "connected; 4 tools: remote__add, remote__shout, remote__fail, remote__sleep",
    )


# --- health --------------------------------------------------------------------------------


async def test_health_of_a_running_server(
    manager: MCPConnections, stdio_config: MCPServerConfig
) -> None:
    ok, detail = await manager.health(stdio_config)
    assert ok
    assert detail.startswith("connected; 4 tools: demo__add")


async def test_health_of_a_command_that_does_not_exist(
    manager: MCPConnections, caplog: pytest.LogCaptureFixture
) -> None:
    config = MCPServerConfig(name="missing", command="podium-no-such-mcp-server")

    with caplog.at_level("WARNING", logger="podium.tools.mcp"):
        ok, detail = await manager.health(config)

    assert not ok  # a stable message; the reason is in the server's log
    assert detail == (
        "could not start MCP server 'missing': the server's log says why (ask the operator)"
    )
    assert "No such file or directory" in caplog.text
    with pytest.raises(MCPServerUnavailable, match="could not start MCP server 'missing'"):
        await manager.tools(config)


async def test_a_server_that_exits_has_its_stderr_logged_never_answered(
    manager: MCPConnections, caplog: pytest.LogCaptureFixture
) -> None:
    config = MCPServerConfig(
        name="crashy",
        command=sys.executable,
        args=("-c", "import sys; print('missing API token', file=sys.stderr); sys.exit(2)"),
    )

    with caplog.at_level("WARNING", logger="podium.tools.mcp"):
        ok, detail = await manager.health(config)

    assert not ok
    assert detail == (
        "could not start MCP server 'crashy': the server's log says why (ask the operator)"
    )
    assert "its stderr: missing API token" in caplog.text
    with pytest.raises(MCPServerUnavailable) as caught:
        await manager.tools(config)
    assert "missing API token" not in caught.value.message


async def test_a_server_that_never_answers_times_out_and_is_stopped() -> None:
    config = MCPServerConfig(
        name="mute",
        command=sys.executable,
        args=("-c", "import time; time.sleep(60)"),
        timeout_seconds=1,
    )
    manager = MCPConnections(connect_timeout=1)

    ok, detail = await manager.health(config)
    await manager.close()

    assert not ok
    assert detail.startswith("could not start MCP server 'mute'")
    assert detail.endswith("no answer within 1s")
    assert mcp_children() == []


async def test_a_caller_cancelled_while_connecting_leaves_no_process(
    manager: MCPConnections,
) -> None:
    config = MCPServerConfig(
        name="mute", command=sys.executable, args=("-c", "import time; time.sleep(60)")
    )
    started = asyncio.get_running_loop().time()

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await manager.tools(config)

    assert asyncio.get_running_loop().time() - started < 10
    assert mcp_children() == []


async def test_health_of_a_closed_port(manager: MCPConnections) -> None:
    port = free_port()
    config = MCPServerConfig(name="nothing", transport="http", url=f"http://127.0.0.1:{port}/mcp")

    ok, detail = await manager.health(config)

    assert not ok  # the same words whatever the reason (closed, not MCP, reset)
    assert detail == (
        f"could not connect to MCP server 'nothing' at http://127.0.0.1:{port}/mcp: "
        "no MCP session could be held with it (the server's log says why)"
    )


# --- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"name": "demo", "transport": "stdio"},
            "MCP server 'demo' uses the stdio transport and needs a command",
        ),
        ({"name": "demo", "command": "  "}, "uses the stdio transport and needs a command"),
        (
            {"name": "demo", "transport": "http"},
            "MCP server 'demo' uses the http transport and needs an http:// or https:// URL",
        ),
        (
            {"name": "demo", "transport": "http", "url": "ftp://example.com/mcp"},
            "needs an http:// or https:// URL of the server's MCP endpoint "
            "(e.g. 'https://example.com/mcp'), not 'ftp://example.com/mcp'",
        ),
        ({"name": "demo", "transport": "http", "url": "https://"}, "needs an http:// or https://"),
        ({"name": "Bad Name", "command": "x"}, "MCP server name 'Bad Name' is not valid"),
        ({"name": "9lives", "command": "x"}, "MCP server name '9lives' is not valid"),
        ({"name": "x" * 33, "command": "x"}, "is not valid: use 1-32 lowercase letters"),
        ({"command": "x"}, "needs a name"),
        (
            {"name": "demo", "transport": "sse", "url": "http://x/mcp"},
            "MCP server 'demo': transport must be 'stdio' or 'http', not 'sse'",
        ),
        (
            {"name": "demo", "command": "x", "timeout_seconds": 0},
            "timeout_seconds must be a number of seconds above 0",
        ),
        ({"name": "demo", "command": "x", "timeout_seconds": "5"}, "timeout_seconds must be"),
        ({"name": "demo", "comand": "x"}, "MCP server 'demo': unknown field(s) comand"),
        ({"name": "demo", "command": "x", "args": "--port 1"}, "args must be a list of strings"),
        ({"name": "demo", "command": "x", "args": [1]}, "args must be a list of strings"),
        (
            {"name": "demo", "command": "x", "env": {"TOKEN": 1}},
            "every env name and value must be a string",
        ),
        ({"name": "demo", "command": "x", "env": {"A=B": "1"}}, "'A=B' is not a valid environment"),
        (
            {"name": "demo", "command": "x", "url": "http://x/mcp"},
            "uses the stdio transport: url and headers apply to the http transport only",
        ),
        (
            {"name": "demo", "transport": "http", "url": "http://x/mcp", "command": "x"},
            "uses the http transport: command, args, env and cwd apply to the stdio transport",
        ),
        (
            {"name": "demo", "transport": "http", "url": "http://x/mcp", "headers": {"A": "1\n"}},
            "'A' is not a valid HTTP header",
        ),
    ],
)
def test_bad_configs_are_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        MCPServerConfig.from_json(data)
    assert message in str(caught.value)
    assert caught.value.code == "invalid_input"


def test_bad_configs_are_refused_when_built_directly() -> None:
    with pytest.raises(InvalidInput, match="needs a command"):
        MCPServerConfig(name="demo")
    with pytest.raises(InvalidInput, match="needs an http:// or https:// URL"):
        MCPServerConfig(name="demo", transport="http", url="localhost:8000")


def test_config_json_round_trip_and_hashing() -> None:
    stdio = MCPServerConfig.from_json(
        {
            "name": "github",
            "command": "npx",
            "args": ["-y", "server-github"],
            "env": {"TOKEN": "secret", "A": "1"},
            "cwd": "/srv",
        }
    )
    assert stdio.transport == "stdio"
    assert stdio.env == (("A", "1"), ("TOKEN", "secret"))
    assert stdio.to_json() == {
        "name": "github",
        "transport": "stdio",
        "command": "npx",
        "args": ["-y", "server-github"],
        "env": {"A": "1", "TOKEN": "secret"},
        "cwd": "/srv",
        "timeout_seconds": 30.0,
    }
    assert MCPServerConfig.from_json(stdio.to_json()) == stdio
    assert "secret" not in repr(stdio)

    http = MCPServerConfig.from_json(
        {
            "name": "remote",
            "transport": "http",
            "url": "https://example.com/mcp",
            "headers": {"Authorization": "Bearer t"},
            "timeout_seconds": 5,
        }
    )
    assert http.to_json() == {
        "name": "remote",
        "transport": "http",
        "url": "https://example.com/mcp",
        "headers": {"Authorization": "Bearer t"},
        "timeout_seconds": 5,
    }
    assert MCPServerConfig.from_json(http.to_json()) == http
    assert "Bearer" not in repr(http)
    assert len({stdio, http, MCPServerConfig.from_json(stdio.to_json())}) == 2


def test_tool_names_fit_what_providers_accept() -> None:
    assert tool_name("demo", "add") == "demo__add"
    dotted = tool_name("demo", "files.read")
    assert dotted.startswith("demo__files_read-")
    assert NAME_PATTERN.match(dotted)
    long = tool_name("x" * 32, "y" * 60)
    assert len(long) <= 64
    assert NAME_PATTERN.match(long)
    assert tool_name("demo", "a_b", taken={"demo__a_b"}) != "demo__a_b"


def test_result_values() -> None:
    texts = [TextContent(text="first"), TextContent(text="second")]
    assert result_value(CallToolResult(content=texts)) == "first\nsecond"
    structured = CallToolResult(content=texts, structured_content={"n": 1})
    assert result_value(structured) == {"n": 1}
    image = ImageContent(data="AAAA", mime_type="image/png")
    assert result_value(CallToolResult(content=[image])) == "[image content omitted]"
    with pytest.raises(MCPToolError, match=r"^no such thing$"):
        result_value(CallToolResult(content=[TextContent(text="no such thing")], is_error=True))
