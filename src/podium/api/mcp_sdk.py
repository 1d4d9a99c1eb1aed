"""The MCP SDK's side of `/apps/{app_id}/mcp` (docs/mcp-server.md): the low-level `Server`
whose handlers answer for the app of each request, and its session manager in stateless mode
with JSON answers. `podium.api.mcp_server` imports this module on the first MCP request, so a
server that is never asked for MCP does not load the SDK (~0.4 s of every start)."""

from __future__ import annotations

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

from podium.api.deps import AppAccess, Services
from podium.api.mcp_resources import AppResources
from podium.api.mcp_server import SCOPE_KEY
from podium.api.mcp_tools import AppTools
from podium.errors import NotFound, PodiumError
from podium.version import __version__

RESOURCE_NOT_FOUND = -32002  # the MCP specification's code for an unknown resource
INSTRUCTIONS = (
    "Podium: each flow of the app is a tool flow_<name>, each agent a tool agent_<name>. "
    "A run that asks a question answers with pending_question and session_id: call answer "
    "with them; call wait to follow a run that is still going."
)


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


def session_manager(max_body_bytes: int) -> StreamableHTTPSessionManager:
    """The SDK's session manager over `build_server()`: stateless, JSON answers."""
    return StreamableHTTPSessionManager(
        app=build_server(),
        json_response=True,
        stateless=True,
        max_request_body_size=max_body_bytes,
    )
