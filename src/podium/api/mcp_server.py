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
"""

from __future__ import annotations

import json
import re
from typing import Any

from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    CallToolRequestParams,
    CallToolResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    PaginatedRequestParams,
    ReadResourceRequestParams,
    ReadResourceResult,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium.api.deps import AppAccess, Services
from podium.api.errors import error_response
from podium.api.mcp_resources import AppResources
from podium.api.mcp_tools import AppTools
from podium.auth.tenancy import KEY_PREFIX
from podium.errors import NotFound, PodiumError
from podium.version import __version__

SCOPE_KEY = "podium.mcp"  # where the endpoint leaves (services, access) for the handlers
RESOURCE_NOT_FOUND = -32002  # the MCP specification's code for an unknown resource
INSTRUCTIONS = (
    "Podium: each flow of the app is a tool flow_<name>, each agent a tool agent_<name>. "
    "A run that asks a question answers with pending_question and session_id: call answer "
    "with them; call wait to follow a run that is still going."
)


def mcp_path(prefix: str) -> str:
    return f"{prefix}/apps/{{app_id}}/mcp"


def mcp_path_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(re.escape(prefix) + r"/apps/[^/]+/mcp")


def _caller(ctx: ServerRequestContext[Any, Any]) -> tuple[Services, AppAccess]:
    request = ctx.request
    found = None if request is None else request.scope.get(SCOPE_KEY)
    if found is None:  # only MCPEndpoint hands requests to the SDK
        raise MCPError(INVALID_REQUEST, "no caller: this server is reached through /mcp")
    services, access = found
    return services, access


async def _list_tools(
    ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams | None
) -> ListToolsResult:
    services, access = _caller(ctx)
    return ListToolsResult(tools=await AppTools(services, access).list())


async def _call_tool(
    ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams
) -> CallToolResult:
    services, access = _caller(ctx)
    tools = AppTools(services, access)
    if not tools.knows(params.name):
        raise MCPError(
            INVALID_PARAMS, f"no tool named {params.name[:200]!r}; tools/list names the tools"
        )
    return await tools.call(params.name, params.arguments)


async def _list_resources(
    ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams | None
) -> ListResourcesResult:
    services, access = _caller(ctx)
    cursor = params.cursor if params is not None else None
    try:
        return await AppResources(services, access).list(cursor)
    except PodiumError as exc:
        raise _protocol_error(exc) from None


async def _list_templates(
    ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams | None
) -> ListResourceTemplatesResult:
    services, access = _caller(ctx)
    return AppResources(services, access).templates()


async def _read_resource(
    ctx: ServerRequestContext[Any, Any], params: ReadResourceRequestParams
) -> ReadResourceResult:
    services, access = _caller(ctx)
    try:
        return await AppResources(services, access).read(str(params.uri))
    except PodiumError as exc:
        raise _protocol_error(exc) from None


def _protocol_error(exc: PodiumError) -> MCPError:
    code = RESOURCE_NOT_FOUND if isinstance(exc, NotFound) else INVALID_PARAMS
    data = {"code": exc.code, "message": exc.message, "details": exc.details or {}}
    return MCPError(code, f"{exc.code}: {exc.message}", data)


def build_server() -> Server[Any]:
    """The SDK server whose handlers answer for the app of each request."""
    return Server(
        "podium",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=_list_tools,
        on_call_tool=_call_tool,
        on_list_resources=_list_resources,
        on_list_resource_templates=_list_templates,
        on_read_resource=_read_resource,
    )


class MCPEndpoint:
    """The ASGI app at `/apps/{app_id}/mcp`: checks the caller, then hands the request to the
    SDK's session manager (whose `run()` the API's lifespan holds open)."""

    def __init__(self, max_body_bytes: int) -> None:
        self.manager = StreamableHTTPSessionManager(
            app=build_server(),
            json_response=True,
            stateless=True,
            max_request_body_size=max_body_bytes,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services: Services = scope["app"].state.services
        app_id = str(scope.get("path_params", {}).get("app_id", ""))
        try:
            access = await self._access(services, scope, app_id)
        except PodiumError as exc:
            await error_response(exc)(scope, receive, send)
            return
        scope = {**scope, SCOPE_KEY: (services, access)}
        await self.manager.handle_request(scope, receive, send)

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
