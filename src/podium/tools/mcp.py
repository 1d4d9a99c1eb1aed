"""MCP servers: an app's Model Context Protocol servers, whose tools agents call like any other.

    config = MCPServerConfig.from_json(
        {"name": "github", "transport": "stdio", "command": "npx", "args": ["-y", "server-github"]}
    )
    tools = await connections().tools(config)   # Tools named "github__<tool>", source "mcp:github"

`MCPConnections` keeps one live session per configuration, opened on first use and reopened
once when it has broken (the server process died, the HTTP server went away). The SDK's
clients are anyio context managers that must be entered and exited by one task, so each
session lives in an owner task that enters them, serves the calls it is sent (each in a child
task, so calls run concurrently) and, on `close()`, exits them: the session ends, a stdio
server's process is stopped (stdin closed, then SIGTERM, then SIGKILL).

A stdio server's stderr is read by Podium: its lines go to the `podium.tools.mcp` logger
(DEBUG), and the last of them are logged (WARNING) when the server cannot be reached; they
never go into an answer, which says only that the server could not be started. An HTTP
server is reached through the egress policy (`podium.egress`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT, CallToolResult, Implementation
from mcp_types import Tool as MCPTool

from podium.egress import guarded_client
from podium.errors import PodiumError
from podium.tools.base import NAME_PATTERN, Tool, ToolContext
from podium.tools.mcp_config import (
    CONNECT_TIMEOUT_SECONDS,
    TOOLS_TTL_SECONDS,
    MCPServerConfig,
    MCPServerUnavailable,
    MCPToolError,
    describe_error,
    leaves,
    public_reason,
)

__all__ = [
    "MCPConnections",
    "MCPServerConfig",
    "MCPServerUnavailable",
    "MCPToolError",
    "close_connections",
    "connections",
]

logger = logging.getLogger(__name__)

_STDERR_LINES = 20
_MAX_PAGES = 100  # tools/list pages; a server whose cursor never ends cannot hang a listing
_T = TypeVar("_T")

# --- one connection ----------------------------------------------------------------------


def _is_connection_failure(exc: BaseException) -> bool:
    """Whether the error means the connection is gone (so a new one may succeed)."""
    for leaf in leaves(exc):
        if isinstance(leaf, MCPServerUnavailable):
            return True
        if isinstance(leaf, MCPError) and leaf.code == CONNECTION_CLOSED:
            return True
        if isinstance(
            leaf,
            OSError
            | httpx2.TransportError
            | anyio.ClosedResourceError
            | anyio.BrokenResourceError
            | anyio.EndOfStream,
        ):
            return True
    return False


@dataclass(slots=True)
class _Request:
    run: Callable[[Client], Awaitable[Any]]
    future: asyncio.Future[Any]
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)


class _Connection:
    """One session, owned by one task: it enters the SDK's contexts, serves, then exits them."""

    def __init__(self, config: MCPServerConfig, connect_timeout: float) -> None:
        self.config = config
        self.connect_timeout = max(config.timeout_seconds, connect_timeout)
        self.loop = asyncio.get_running_loop()
        self._requests: asyncio.Queue[_Request | None] = asyncio.Queue()
        self._ready: asyncio.Future[None] = self.loop.create_future()
        self._scope = anyio.CancelScope()
        self._stderr: deque[str] = deque(maxlen=_STDERR_LINES)
        self.broken = False  # set when the session is known to be gone
        self._task = self.loop.create_task(self._own(), name=f"mcp:{config.name}")

    @property
    def alive(self) -> bool:
        return not self.broken and not self._task.done() and not self.loop.is_closed()

    def stderr_tail(self) -> str:
        return " | ".join(line for line in self._stderr if line.strip())[-1000:]

    async def wait_ready(self) -> None:
        """Wait for the session (connected and initialized), or raise why there is none."""
        timeout = self.connect_timeout
        try:
            done, _ = await asyncio.wait(
                {self._ready, self._task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        except BaseException:  # the caller was cancelled: no one will use this session
            await self.close(graceful=False)
            raise
        if self._ready in done and self._ready.exception() is None:
            return
        if not done:
            await self.close(graceful=False)
            raise MCPServerUnavailable(self._failure(None, f"no answer within {timeout:g}s"))
        await self.close(graceful=False)
        error = self._ready.exception() if self._ready.done() else None
        raise MCPServerUnavailable(self._failure(error)) from error

    def _failure(self, error: BaseException | None, detail: str | None = None) -> str:
        """A stable message for the answer; the reason, and a stdio server's stderr, go to
        the server's log (they may hold what the answer must not: paths, the environment,
        a remote body)."""
        config = self.config
        logger.warning(
            "MCP server %r could not be reached: %s%s",
            config.name,
            detail or describe_error(error or EOFError()),
            f"; its stderr: {self.stderr_tail()}" if self.stderr_tail() else "",
        )
        if config.transport == "stdio":
            why = detail or "the server's log says why (ask the operator)"
            return f"could not start MCP server {config.name!r}: {why}"
        reason = detail or public_reason(error)
        return f"could not connect to MCP server {config.name!r} at {config.url}: {reason}"

    async def submit(self, run: Callable[[Client], Awaitable[_T]]) -> _T:
        """Run `run(client)` in the owner task; a cancelled caller cancels it there."""
        if not self.alive:
            raise MCPServerUnavailable(f"the connection to MCP server {self.config.name!r} closed")
        request = _Request(run, self.loop.create_future())
        request.future.add_done_callback(
            lambda future: request.scope.cancel() if future.cancelled() else None
        )
        self._requests.put_nowait(request)
        return cast(_T, await request.future)

    async def close(self, *, graceful: bool = True) -> None:
        """End the session (and stop a stdio server's process); idempotent."""
        self.broken = True
        if self._task.done():
            return
        if graceful and self._ready.done():
            self._requests.put_nowait(None)
        else:
            self._scope.cancel()
        try:
            await asyncio.shield(self._task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the caller is cancelled, not (only) the owner task
        except Exception:  # it was logged, or handed to the callers, already
            pass

    # --- the owner task -------------------------------------------------------------------

    async def _own(self) -> None:
        try:
            with self._scope:
                async with AsyncExitStack() as stack:
                    client = await self._open(stack)
                    async with anyio.create_task_group() as calls:
                        self._ready.set_result(None)
                        while (request := await self._requests.get()) is not None:
                            calls.start_soon(self._serve, client, request)
                        calls.cancel_scope.cancel()  # closing: calls still running end
        except Exception as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            else:
                logger.warning(
                    "the connection to MCP server %r ended: %s",
                    self.config.name,
                    describe_error(exc),
                )
        finally:
            self.broken = True
            if not self._ready.done():
                self._ready.set_exception(MCPServerUnavailable("the connection was closed"))
            self._ready.exception()  # retrieved, so asyncio does not warn of it
            gone = MCPServerUnavailable(f"the connection to MCP server {self.config.name!r} closed")
            while not self._requests.empty():
                pending = self._requests.get_nowait()
                if pending is not None and not pending.future.done():
                    pending.future.set_exception(gone)

    async def _serve(self, client: Client, request: _Request) -> None:
        future = request.future
        if future.done():  # its caller gave up before it started
            return
        try:
            with request.scope:  # cancelled when the caller is
                result = await request.run(client)
                if not future.done():
                    future.set_result(result)
        except Exception as exc:
            if _is_connection_failure(exc):
                self.broken = True
            if not future.done():
                future.set_exception(exc)
        finally:  # cancelled by close(), or the session failed under it
            if not future.done():
                future.set_exception(
                    MCPServerUnavailable(
                        f"the connection to MCP server {self.config.name!r} closed during the call"
                    )
                )

    async def _open(self, stack: AsyncExitStack) -> Client:
        config = self.config
        common: dict[str, Any] = {
            "read_timeout_seconds": config.timeout_seconds,
            "client_info": Implementation(name="podium", version=_podium_version()),
            "cache": None,  # Podium caches tool lists itself, for a known time
        }
        if config.transport == "http":
            assert config.url is not None
            http = await stack.enter_async_context(
                guarded_client(
                    headers=dict(config.headers),
                    timeout=httpx2.Timeout(config.timeout_seconds, read=300.0),
                )
            )
            streams = streamable_http_client(config.url, http_client=http)
            return await stack.enter_async_context(Client(streams, **common))
        assert config.command is not None
        parameters = StdioServerParameters(
            command=config.command,
            args=list(config.args),
            env=dict(config.env) or None,
            cwd=config.cwd,
        )
        if sys.platform == "win32":  # pragma: no cover - stderr is read through a POSIX pipe
            return await stack.enter_async_context(Client(parameters, **common))
        read_fd, write_fd = os.pipe()
        stack.callback(os.close, read_fd)
        errlog = os.fdopen(write_fd, "w", encoding="utf-8")
        stack.callback(errlog.close)
        readers = await stack.enter_async_context(anyio.create_task_group())
        readers.start_soon(self._read_stderr, read_fd)
        stack.callback(readers.cancel_scope.cancel)  # after the client: the process is gone
        try:
            transport = stdio_client(parameters, errlog=errlog)
            return await stack.enter_async_context(Client(transport, **common))
        finally:
            errlog.close()  # the child holds its own copy; EOF comes when it exits

    async def _read_stderr(self, fd: int) -> None:
        os.set_blocking(fd, False)
        buffer = b""

        def take(data: bytes) -> None:
            nonlocal buffer
            *lines, buffer = (buffer + data).split(b"\n")
            if len(buffer) > 65536:  # a line without end: keep memory bounded
                lines.append(buffer)
                buffer = b""
            for raw in lines:
                line = raw.decode("utf-8", "replace").rstrip()
                self._stderr.append(line)
                logger.debug("MCP server %r: %s", self.config.name, line)

        try:
            while True:
                await anyio.wait_readable(fd)
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if not data:
                    break
                take(data)
        finally:
            with contextlib.suppress(OSError):  # what was written just before the end
                while data := os.read(fd, 65536):
                    take(data)
            if buffer:
                take(b"\n")


def _podium_version() -> str:
    try:
        from importlib.metadata import version

        return version("podium")
    except Exception:  # pragma: no cover - not installed as a distribution
        return "0"


# --- results and names -------------------------------------------------------------------


def result_value(result: CallToolResult) -> Any:
    """A call's result as JSON: its structured content when present, else its text."""
    if result.is_error:
        raise MCPToolError(_content_text(result) or "the tool reported an error")
    if result.structured_content is not None:
        return result.structured_content
    return _content_text(result)


def _content_text(result: CallToolResult) -> str:
    texts = []
    for block in result.content:
        text = getattr(block, "text", None)
        if text is None:  # an embedded resource may carry text too
            text = getattr(getattr(block, "resource", None), "text", None)
        if isinstance(text, str):
            texts.append(text)
        else:
            texts.append(f"[{getattr(block, 'type', 'content')} content omitted]")
    return "\n".join(texts)


def tool_name(server: str, name: str, taken: Iterable[str] = ()) -> str:
    """`<server>__<name>` as a name every provider accepts (and not one of `taken`)."""
    wanted = f"{server}__{name}"
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", wanted)
    if cleaned == wanted and len(cleaned) <= 64 and cleaned not in taken:
        return cleaned
    digest = hashlib.sha256(wanted.encode()).hexdigest()[:8]
    made = f"{cleaned[:55]}-{digest}"
    assert NAME_PATTERN.match(made)
    return made


# --- the manager -------------------------------------------------------------------------


class MCPConnections:
    """Live MCP sessions, one per `MCPServerConfig`, and their tools as Podium tools.

    Sessions open on first use, within `connect_timeout` seconds (or the config's timeout
    when longer). A call that fails because the session broke is retried once on a new
    session (one opened for that very call is not retried). Tool lists are cached for
    `tools_ttl` seconds. `close()` ends every session; the manager may be used
    again afterwards. All of it belongs to one event loop: used from another, it forgets
    the sessions of the old one.
    """

    def __init__(
        self,
        *,
        tools_ttl: float = TOOLS_TTL_SECONDS,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
    ) -> None:
        self.tools_ttl = tools_ttl
        self.connect_timeout = connect_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: dict[MCPServerConfig, _Connection] = {}
        self._connecting: dict[MCPServerConfig, asyncio.Lock] = {}
        self._listing: dict[MCPServerConfig, asyncio.Lock] = {}
        self._tools: dict[MCPServerConfig, tuple[float, list[Tool]]] = {}
        self._starting: set[_Connection] = set()
        self._closes = 0  # how many times close() ran: a call it interrupted is not retried

    # --- public -----------------------------------------------------------------------------

    async def tools(self, config: MCPServerConfig) -> list[Tool]:
        """The server's tools as Podium tools (cached for `tools_ttl` seconds)."""
        self._bind_loop()
        config.validate()
        cached = self._tools.get(config)
        if cached is not None and cached[0] > time.monotonic():
            return list(cached[1])
        lock = self._listing.setdefault(config, asyncio.Lock())
        async with lock:
            cached = self._tools.get(config)
            if cached is not None and cached[0] > time.monotonic():
                return list(cached[1])
            listed = await self._list(config)
            return list(listed)

    async def call(self, config: MCPServerConfig, tool_name: str, arguments: dict[str, Any]) -> Any:
        """Call the server's tool `tool_name` (its own name); return its result as JSON.

        Raises `MCPToolError` with the server's text when the tool reports an error,
        `TimeoutError` past the config's timeout, `MCPServerUnavailable` when the server
        cannot be reached.
        """
        self._bind_loop()
        config.validate()
        timeout = config.timeout_seconds

        async def run(client: Client) -> CallToolResult:
            return await client.call_tool(tool_name, arguments, read_timeout_seconds=timeout)

        try:
            result = await self._run(config, run)
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                raise TimeoutError(
                    f"MCP server {config.name!r} did not answer {tool_name} within {timeout:g}s"
                ) from None
            raise
        return result_value(result)

    async def health(self, config: MCPServerConfig) -> tuple[bool, str]:
        """(True, what it offers) when the server answers a tool listing, else (False, why)."""
        self._bind_loop()
        try:
            config.validate()
            tools = await self._list(config)
        except Exception as exc:
            if isinstance(exc, PodiumError):
                return False, exc.message
            logger.warning("MCP server %r is not healthy: %s", config.name, describe_error(exc))
            return False, public_reason(exc)
        names = ", ".join(t.name for t in tools[:10]) + (", …" if len(tools) > 10 else "")
        count = f"{len(tools)} tool{'s' if len(tools) != 1 else ''}"
        return True, f"connected; {count}" + (f": {names}" if tools else "")

    async def disconnect(self, config: MCPServerConfig) -> None:
        """End the session of one config (e.g. after the app changed or removed it)."""
        self._bind_loop()
        self._tools.pop(config, None)
        self._listing.pop(config, None)
        connection = self._connections.pop(config, None)
        if connection is not None:
            await connection.close()

    async def close(self) -> None:
        """End every session and stop every server process this manager started."""
        if self._loop is not None and self._loop is not _running_loop():
            self._forget()
            return
        self._closes += 1
        connections = [*self._connections.values(), *self._starting]
        self._connections.clear()
        self._starting.clear()
        self._tools.clear()
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)

    # --- inside -----------------------------------------------------------------------------

    async def _list(self, config: MCPServerConfig) -> list[Tool]:
        async def run(client: Client) -> list[MCPTool]:
            found: list[MCPTool] = []
            cursor: str | None = None
            for _ in range(_MAX_PAGES):
                page = await client.list_tools(cursor=cursor)
                found += page.tools
                cursor = page.next_cursor
                if cursor is None:
                    break
            return found

        listed = await self._run(config, run)
        tools: list[Tool] = []
        taken: set[str] = set()
        for item in listed:
            made = self._tool(config, item, taken)
            taken.add(made.name)
            tools.append(made)
        self._tools[config] = (time.monotonic() + self.tools_ttl, tools)
        return tools

    def _tool(self, config: MCPServerConfig, item: MCPTool, taken: set[str]) -> Tool:
        original = item.name

        async def invoke(arguments: dict[str, Any], ctx: ToolContext) -> Any:
            return await self.call(config, original, arguments)

        description = item.description or item.title or f"{original} (MCP server {config.name})"
        return Tool(
            name=tool_name(config.name, original, taken),
            description=description,
            parameters=dict(item.input_schema),
            invoke_fn=invoke,
            timeout_seconds=config.timeout_seconds,
            source=config.source,
        )

    async def _run(self, config: MCPServerConfig, run: Callable[[Client], Awaitable[_T]]) -> _T:
        """`run(client)` on the config's session; once more on a new one if that one broke."""
        closes = self._closes
        for attempt in (1, 2):
            connection, fresh = await self._connection(config)
            try:
                return await connection.submit(run)
            except Exception as exc:
                if not _is_connection_failure(exc):
                    raise
                await self._discard(config, connection)
                # Not retried: a session opened for this call, or one close() ended.
                if attempt == 2 or fresh or closes != self._closes:
                    raise self._unavailable(config, exc) from exc
                logger.info("reconnecting to MCP server %r: %s", config.name, describe_error(exc))
        raise AssertionError("unreachable")

    def _unavailable(self, config: MCPServerConfig, exc: Exception) -> Exception:
        if isinstance(exc, MCPServerUnavailable):
            return exc
        logger.warning(
            "the connection to MCP server %r broke: %s", config.name, describe_error(exc)
        )
        return MCPServerUnavailable(
            f"the connection to MCP server {config.name!r} broke: {public_reason(exc)}"
        )

    async def _connection(self, config: MCPServerConfig) -> tuple[_Connection, bool]:
        existing = self._connections.get(config)
        if existing is not None and existing.alive:
            return existing, False
        lock = self._connecting.setdefault(config, asyncio.Lock())
        async with lock:
            existing = self._connections.get(config)
            if existing is not None:
                if existing.alive:
                    return existing, False
                await self._discard(config, existing)
            connection = _Connection(config, self.connect_timeout)
            self._starting.add(connection)
            try:
                await connection.wait_ready()  # closes itself when it fails
            finally:
                self._starting.discard(connection)
            self._connections[config] = connection
            return connection, True

    async def _discard(self, config: MCPServerConfig, connection: _Connection) -> None:
        if self._connections.get(config) is connection:
            del self._connections[config]
        await connection.close()

    def _bind_loop(self) -> None:
        loop = _running_loop()
        if self._loop is loop:
            return
        if self._loop is not None:
            self._forget()
        self._loop = loop

    def _forget(self) -> None:
        if self._connections:
            logger.warning(
                "MCP sessions of another event loop were not closed: %s",
                ", ".join(sorted(c.name for c in self._connections)),
            )
        self._connections.clear()
        self._starting.clear()
        self._connecting.clear()
        self._listing.clear()
        self._tools.clear()
        self._loop = None


def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


_DEFAULT: MCPConnections | None = None


def connections() -> MCPConnections:
    """The process's connections (created on first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = MCPConnections()
    return _DEFAULT


async def close_connections() -> None:
    """Close the process's connections (at shutdown); a no-op when there are none."""
    if _DEFAULT is not None:
        await _DEFAULT.close()
