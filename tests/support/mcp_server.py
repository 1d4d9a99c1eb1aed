"""A small MCP server for tests, built on the SDK's `MCPServer` (FastMCP's successor in mcp 2).

Tools:
    add(a: int, b: int) -> int     the sum
    shout(text: str) -> str        the text in capitals, with "!"
    fail() -> str                  always fails: the call's error text (isError) is
                                   "Error executing tool fail: the fail tool always fails"
    sleep(seconds: float) -> str   waits, then answers "slept" (for timeouts and cancelling)

Run it over stdio (what `MCPServerConfig(transport="stdio", ...)` launches):

    python tests/support/mcp_server.py

or over streamable HTTP on 127.0.0.1, endpoint `http://127.0.0.1:N/mcp`:

    python tests/support/mcp_server.py --http --port N

When the environment variable `MCP_CALL_LOG` names a file, each tool call appends one JSON line
to it, `{"tool": "add", "arguments": {"a": 2, "b": 3}, "pid": 1234}`, so a test can count the
calls that reached the server (see `read_calls`). With `--http`, the server also prints
`listening on <url>` to stderr once it accepts connections.

From a test (tests/ is on sys.path, see tests/conftest.py):

    from support.mcp_server import SCRIPT, read_calls

    log = tmp_path / "calls.jsonl"
    config = MCPServerConfig(
        name="demo", transport="stdio", command=sys.executable, args=(str(SCRIPT),),
        env=(("MCP_CALL_LOG", str(log)),),
    )
    ...
    assert [c["tool"] for c in read_calls(log)] == ["add"]

`start_http_server(port, call_log)` (a context manager) runs the HTTP variant as a subprocess
and yields its URL once it accepts connections; `free_port()` finds a port to give it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()
CALL_LOG_ENV = "MCP_CALL_LOG"


def read_calls(path: str | Path) -> list[dict[str, Any]]:
    """The calls a server logged to `path` (an empty list when it logged none)."""
    file = Path(path)
    if not file.exists():
        return []
    return [json.loads(line) for line in file.read_text().splitlines() if line.strip()]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def start_http_server(
    port: int | None = None, call_log: str | Path | None = None, *, timeout: float = 30.0
) -> Iterator[str]:
    """Run this server over streamable HTTP in a subprocess; yield its MCP endpoint URL.

    Waits until the port accepts connections; stops (and reaps) the process on exit.
    """
    import socket
    import subprocess
    import time

    port = port or free_port()
    env = dict(os.environ)
    if call_log is not None:
        env[CALL_LOG_ENV] = str(call_log)
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--http", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the MCP test server exited with {process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the MCP test server did not listen on {port}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _log_call(tool: str, arguments: dict[str, Any]) -> None:
    target = os.environ.get(CALL_LOG_ENV)
    if not target:
        return
    line = json.dumps({"tool": tool, "arguments": arguments, "pid": os.getpid()})
    with open(target, "a", encoding="utf-8") as file:
        file.write(line + "\n")


def build_server() -> Any:
    import anyio
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server: Any = MCPServer("podium-test", log_level="WARNING")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        _log_call("add", {"a": a, "b": b})
        return a + b

    @server.tool()
    def shout(text: str) -> str:
        """Say the text loudly."""
        _log_call("shout", {"text": text})
        return text.upper() + "!"

    @server.tool()
    def fail() -> str:
        """Always fail."""
        _log_call("fail", {})
        raise ToolError("the fail tool always fails")

    @server.tool()
    async def sleep(seconds: float) -> str:
        """Wait some seconds."""
        _log_call("sleep", {"seconds": seconds})
        await anyio.sleep(seconds)
        return "slept"

    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A test MCP server (add, shout, fail).")
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP, not stdio")
    parser.add_argument("--port", type=int, default=8000, help="the HTTP port (with --http)")
    options = parser.parse_args(argv)
    server = build_server()
    if not options.http:
        server.run("stdio")
        return

    import anyio
    import uvicorn

    async def serve() -> None:
        app = server.streamable_http_app(host="127.0.0.1")
        config = uvicorn.Config(app, host="127.0.0.1", port=options.port, log_level="warning")
        http = uvicorn.Server(config)

        async def announce() -> None:
            while not http.started:
                await anyio.sleep(0.02)
            print(f"listening on http://127.0.0.1:{options.port}/mcp", file=sys.stderr, flush=True)

        async with anyio.create_task_group() as group:
            group.start_soon(announce)
            await http.serve()
            group.cancel_scope.cancel()  # it stopped (or never started: the port was taken)

    anyio.run(serve)


if __name__ == "__main__":
    main()
