"""`/api/v1/apps/{app_id}/mcp`: each app as a Model Context Protocol server (streamable HTTP,
docs/mcp-server.md), built on the official SDK's low-level `Server` and its session manager in
stateless mode with JSON answers: every POST is one JSON-RPC exchange, authenticated anew.

Each request passes, in order: the body bound and the JSON boundary (the app's middlewares, as
every route), then `MCPEndpoint`: the credential (`Authorization: Bearer <API key or access
token>` or `X-API-Key`), the caller's rate limit, and the caller's role in the app of the URL
(404 for another app's key, as in REST). Only then does the SDK read the message; the tools
and resources (`mcp_tools`, `mcp_resources`) see the caller in the request's scope.

A refusal before the SDK (413, 415, 422, 401, 404, 429) is the REST envelope turned into a
JSON-RPC error by `MCPErrorMiddleware`, so an MCP client shows its message instead of a bare
HTTP status.

The SDK (`mcp_sdk`) is loaded on the first MCP request, not when the server starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium.api.deps import AppAccess, Services
from podium.api.errors import error_response
from podium.auth.tenancy import KEY_PREFIX
from podium.errors import NotFound, PodiumError

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

SCOPE_KEY = "podium.mcp"  # where the endpoint leaves (services, access) for the handlers (mcp_sdk)
INVALID_REQUEST = -32600  # JSON-RPC's "Invalid Request" (the SDK's mcp_types.INVALID_REQUEST)


def mcp_path(prefix: str) -> str:
    return f"{prefix}/apps/{{app_id}}/mcp"


def mcp_path_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(re.escape(prefix) + r"/apps/[^/]+/mcp")


class MCPEndpoint:
    """The ASGI app at `/apps/{app_id}/mcp`: checks the caller, then hands the request to the
    SDK's session manager. The SDK is loaded and its manager started on the first request
    that passes the checks; `run()` (held open by the API's lifespan) stops it at the end."""

    def __init__(self, max_body_bytes: int) -> None:
        self.max_body_bytes = max_body_bytes
        self._manager: StreamableHTTPSessionManager | None = None
        self._starting = asyncio.Lock()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            self._stop.set()
            if self._task is not None:
                await self._task

    async def _started(self) -> StreamableHTTPSessionManager:
        if self._manager is not None:
            return self._manager
        async with self._starting:
            if self._manager is None:
                from podium.api.mcp_sdk import session_manager

                manager = session_manager(self.max_body_bytes)
                ready = asyncio.Event()

                async def hold() -> None:  # the manager's task group lives in this task
                    async with manager.run():
                        ready.set()
                        await self._stop.wait()

                self._task = asyncio.create_task(hold(), name="podium-mcp-sessions")
                waiting = asyncio.create_task(ready.wait())
                await asyncio.wait({waiting, self._task}, return_when=asyncio.FIRST_COMPLETED)
                if not ready.is_set():  # the manager failed to start: raise why
                    waiting.cancel()
                    failed, self._task = self._task, None
                    failed.result()
                self._manager = manager
        assert self._manager is not None
        return self._manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services: Services = scope["app"].state.services
        app_id = str(scope.get("path_params", {}).get("app_id", ""))
        try:
            access = await self._access(services, scope, app_id)
        except PodiumError as exc:
            await error_response(exc)(scope, receive, send)
            return
        manager = await self._started()
        scope = {**scope, SCOPE_KEY: (services, access)}
        await manager.handle_request(scope, receive, send)

    async def _access(self, services: Services, scope: Scope, app_id: str) -> AppAccess:
        bearer, api_key = _credentials(scope)
        if bearer is not None and bearer.startswith(KEY_PREFIX):
            bearer, api_key = None, api_key or bearer  # an API key sent as a bearer token
        principal = await services.tenancy.authenticate(bearer, api_key)
        await services.limiter.hit(principal.rate_key)
        if len(app_id) > 80:  # as the REST routes' path check; not echoed back
            raise NotFound("app does not exist (an app id has at most 80 characters)")
        role = await services.tenancy.require(principal, app_id, "viewer")
        return AppAccess(app_id, principal, role)


def _credentials(scope: Scope) -> tuple[str | None, str | None]:
    bearer = api_key = None
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                bearer = token.strip()
        elif name == b"x-api-key":
            api_key = value.decode("latin-1").strip() or None
    return bearer, api_key


class MCPErrorMiddleware:
    """On the MCP paths, answers an MCP client's error envelope (`{"error": {"code",
    "message", …}}`) as a JSON-RPC error with the same HTTP status and headers: `message` is
    `code: message`, `data` the envelope's error. Other answers, and other callers' (curl, a
    REST client), pass unchanged."""

    def __init__(self, app: ASGIApp, path: re.Pattern[str]) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.path.fullmatch(scope.get("path", ""))
            or not _from_mcp_client(scope)
        ):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def translating_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if message["status"] >= 400 and _is_json(message):
                    start = message  # held until the body is whole
                    return
                await send(message)
                return
            if message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = _as_jsonrpc(b"".join(chunks))
                headers = [
                    (name, value)
                    for name, value in start.get("headers", [])
                    if name.lower() != b"content-length"
                ]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, translating_send)


def _from_mcp_client(scope: Scope) -> bool:
    """Whether the request comes from an MCP client: it accepts Server-Sent Events (as the
    specification asks of every client) or names a protocol version."""
    for name, value in scope.get("headers", []):
        if name == b"mcp-protocol-version":
            return True
        if name == b"accept" and b"text/event-stream" in bytes(value).lower():
            return True
    return False


def _is_json(start: Message) -> bool:
    for name, value in start.get("headers", []):
        if name.lower() == b"content-type":
            return bytes(value).lower().startswith(b"application/json")
    return False


def _as_jsonrpc(body: bytes) -> bytes:
    try:
        value = json.loads(body)
    except ValueError:
        return body
    if not isinstance(value, dict) or "jsonrpc" in value:
        return body  # the SDK's own JSON-RPC error, or not an envelope
    error = value.get("error")
    if not isinstance(error, dict) or "code" not in error:
        return body
    message = f"{error.get('code')}: {error.get('message')}"
    jsonrpc_error = {"code": INVALID_REQUEST, "message": message, "data": error}
    answer = {"jsonrpc": "2.0", "id": None, "error": jsonrpc_error}
    return json.dumps(answer, ensure_ascii=False).encode()
