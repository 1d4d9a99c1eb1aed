"""`/apps/{app_id}/providers`, `/integrations` and `/mcp-servers`: how the app's agents
reach models, outside services and MCP tools. Secrets go in and never come out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from podium.api.agent_schemas import (
    IntegrationPublic,
    MCPServerPublic,
    MCPServerPut,
    MCPStdioEnable,
    ProviderPublic,
    ProviderPut,
)
from podium.api.deps import AppAdmin, AppViewer, PlatformAdmin, ServicesDep
from podium.llm.providers import PRESETS

router = APIRouter(prefix="/apps/{app_id}", tags=["providers"])


@router.get("/providers")
async def list_providers(access: AppViewer, services: ServicesDep) -> list[ProviderPublic]:
    """The app's own provider configurations (the server-wide ones are in /agents/health)."""
    return [ProviderPublic.of(r) for r in await services.agents.list_providers(access.app_id)]


@router.put("/providers/{name}")
async def put_provider(
    name: str, body: ProviderPut, access: AppAdmin, services: ServicesDep
) -> ProviderPublic:
    """Configure a provider under `name` (what model references use: `name/model`). The key
    is encrypted with the server secret and never returned."""
    options: dict[str, Any] = {}
    if body.timeout_seconds is not None:
        options["timeout_seconds"] = body.timeout_seconds
    if body.max_retries is not None:
        options["max_retries"] = body.max_retries
    base_url = body.base_url
    if body.kind == "ollama" and base_url is None:
        from podium.llm.providers import OLLAMA_BASE_URL

        base_url = OLLAMA_BASE_URL
    elif body.kind == "openai" and base_url is None and name in PRESETS:
        base_url = PRESETS[name].base_url  # `mistral` with the app's own key: Mistral's URL
    record = await services.agents.put_provider(
        access.app_id, _name(name), body.kind, base_url, body.api_key, options
    )
    return ProviderPublic.of(record)


@router.get("/providers/{name}")
async def get_provider(name: str, access: AppViewer, services: ServicesDep) -> ProviderPublic:
    return ProviderPublic.of(await services.agents.get_provider(access.app_id, name))


@router.delete("/providers/{name}", status_code=204)
async def delete_provider(name: str, access: AppAdmin, services: ServicesDep) -> Response:
    await services.agents.delete_provider(access.app_id, name)
    return Response(status_code=204)


@router.get("/integrations")
async def list_integrations(access: AppViewer, services: ServicesDep) -> list[IntegrationPublic]:
    """Each integration and where its settings come from (`app`, `server` or nowhere)."""
    found = await services.agents.integrations(access.app_id)
    return [IntegrationPublic(**item) for item in found]


@router.put("/integrations/{service}", status_code=204)
async def put_integration(
    service: str, body: dict[str, str], access: AppAdmin, services: ServicesDep
) -> Response:
    """The app's settings for `hubspot` {access_token, base_url?}, `sendgrid` {api_key,
    from_email, base_url?} or `google_calendar` {access_token, calendar_id?, base_url?};
    stored encrypted, never returned."""
    await services.agents.put_integration(access.app_id, service, body)
    return Response(status_code=204)


@router.delete("/integrations/{service}", status_code=204)
async def delete_integration(service: str, access: AppAdmin, services: ServicesDep) -> Response:
    await services.agents.delete_integration(access.app_id, service)
    return Response(status_code=204)


@router.get("/mcp-servers")
async def list_mcp_servers(access: AppViewer, services: ServicesDep) -> list[MCPServerPublic]:
    return [MCPServerPublic.of(r) for r in await services.agents.list_mcp_servers(access.app_id)]


@router.post("/mcp-servers", status_code=201)
async def put_mcp_server(
    body: MCPServerPut, access: AppAdmin, services: ServicesDep
) -> MCPServerPublic:
    """Connect a streamable HTTP MCP server (its URL passes the egress policy). Its tools are
    offered to agents that list `mcp:<name>` or `<name>__<tool>`. `stdio` is refused (422):
    stdio servers are the operator's."""
    record = await services.agents.put_mcp_server(access.app_id, body.model_dump())
    return MCPServerPublic.of(record)


@router.put("/mcp-servers/{name}/stdio")
async def enable_stdio_mcp_server(
    app_id: Annotated[str, Path(max_length=80, description="the app's id (app_…)")],
    name: Annotated[str, Path(max_length=32, description="the name the app uses for it")],
    body: MCPStdioEnable,
    _: PlatformAdmin,
    services: ServicesDep,
) -> MCPServerPublic:
    """Platform admins only: let the app use the operator's stdio MCP server `server` (one
    of `PODIUM_MCP_STDIO_SERVERS_FILE`) under `name`. The app stores the reference, never the
    command; it runs once per app."""
    record = await services.agents.enable_stdio_mcp_server(
        app_id, name, body.server, body.timeout_seconds
    )
    return MCPServerPublic.of(record)


@router.get("/mcp-servers/{name}/tools")
async def mcp_server_tools(
    name: str, access: AppViewer, services: ServicesDep
) -> list[dict[str, Any]]:
    """The server's tools as agents see them."""
    return await services.agents.mcp_tools(access.app_id, name)


@router.delete("/mcp-servers/{name}", status_code=204)
async def delete_mcp_server(name: str, access: AppAdmin, services: ServicesDep) -> Response:
    await services.agents.delete_mcp_server(access.app_id, name)
    return Response(status_code=204)


def _name(name: str) -> str:
    import re

    from podium.errors import InvalidInput

    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,63}", name):
        raise InvalidInput(
            f"provider name {name!r}: lower-case letters, digits, '_' and '-', starting with a "
            "letter (it is the `name/` of model references)"
        )
    return name
