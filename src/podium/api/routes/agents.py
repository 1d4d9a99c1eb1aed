"""`/apps/{app_id}/agents`, `/tools` and `/tool-calls`: define, generate, invoke and watch
agents; the tool catalogue and the log of every tool call."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sse_starlette import EventSourceResponse

from podium.agents.definition import AgentDefinition
from podium.api.agent_schemas import (
    AgentGenerate,
    AgentHistoryItem,
    AgentHistoryPage,
    AgentInvoke,
    AgentPublic,
    AgentSearchPublic,
    ChatTurnPublic,
    ToolCallPage,
    ToolCallPublic,
)
from podium.api.chatstream import sse_turn, start_chat_turn
from podium.api.deps import AppAdmin, AppMember, AppViewer, ServicesDep
from podium.errors import InvalidInput
from podium.storage.agents import ToolCallFilter

router = APIRouter(prefix="/apps/{app_id}", tags=["agents"])

# Each Server-Sent Event (OpenAPI before 3.2: `schema` describes one event of the stream).
SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"type": "string"},
        "data": {"type": "string", "description": "the event as JSON"},
        "id": {"type": "string", "description": "the seq of a persisted event"},
        "retry": {"type": "integer"},
    },
}
SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}}}
}


@router.get("/agents")
async def list_agents(access: AppViewer, services: ServicesDep) -> list[AgentPublic]:
    """Built-in and the app's agents, each idle or busy with the runs it is working in."""
    return [AgentPublic.of(v) for v in await services.agents.list_agents(access.app_id)]


@router.get("/agents/health")
async def agents_health(access: AppViewer, services: ServicesDep) -> dict[str, Any]:
    """Each model provider reachable or not; each integration `ok | not_configured | error`;
    each MCP server reachable or not."""
    return await services.agents.health(access.app_id)


@router.get("/agents/search")
async def search_agents(
    access: AppViewer,
    services: ServicesDep,
    q: Annotated[str, Query(description="the capability wanted, e.g. weather")] = "",
    k: Annotated[int, Query(description="how many agents, 1 to PODIUM_AGENT_SEARCH_MAX_K")] = 5,
) -> AgentSearchPublic:
    """The app's enabled agents that best fit a capability request, best first, each with
    its score and the words of the query it matched (the agent directory)."""
    directory = services.podium.service("agent_directory")
    return AgentSearchPublic.model_validate(await directory.search(access.app_id, q, k))


@router.get("/agents/{name}")
async def get_agent(name: str, access: AppViewer, services: ServicesDep) -> AgentPublic:
    return AgentPublic.of(await services.agents.get_agent(access.app_id, name))


@router.delete("/agents/{name}", status_code=204)
async def delete_agent(name: str, access: AppAdmin, services: ServicesDep) -> Response:
    """Remove an app's agent, every version of it (204). A built-in agent cannot be deleted
    (409: disable it); an app's agent that replaced a built-in gives the built-in back."""
    await services.agents.delete_agent(access.app_id, name)
    return Response(status_code=204)


@router.post("/agents/{name}/disable")
async def disable_agent(name: str, access: AppAdmin, services: ServicesDep) -> AgentPublic:
    """Disable an agent (built-in or the app's): invoking it, chatting with it and flows
    that run it are refused with 409 until it is enabled again."""
    user_id = access.principal.user_id
    return AgentPublic.of(await services.agents.set_enabled(access.app_id, name, False, user_id))


@router.post("/agents/{name}/enable")
async def enable_agent(name: str, access: AppAdmin, services: ServicesDep) -> AgentPublic:
    """Enable a disabled agent again."""
    user_id = access.principal.user_id
    return AgentPublic.of(await services.agents.set_enabled(access.app_id, name, True, user_id))


@router.get("/agents/{name}/messages")
async def agent_messages(
    name: str,
    access: AppViewer,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20, pattern="^[0-9]+$")] = None,
) -> AgentHistoryPage:
    """The agent's messages across the app's sessions, newest first: what it was told and
    answered (`message.created`) and the agent messages it sent or received."""
    before = int(cursor) if cursor is not None else None
    if before is not None and before >= 2**63:
        raise InvalidInput("cursor is the next_cursor of a page")
    events, older = await services.agents.agent_history(
        access.app_id, name, limit=limit, before=before
    )
    items = [AgentHistoryItem.model_validate(event.to_json()) for event in events]
    return AgentHistoryPage(items=items, next_cursor=None if older is None else str(older))


@router.post("/agents", status_code=201)
async def define_agent(
    body: AgentDefinition, access: AppAdmin, services: ServicesDep
) -> AgentPublic:
    """Define an agent (or a new version of it): name, description, instructions, model,
    tools, capabilities, max_turns, temperature, token_budget."""
    # Only the fields given: `enabled` left out keeps a disabled agent disabled.
    given = body.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    view = await services.agents.define_agent(access.app_id, given, access.principal.user_id)
    return AgentPublic.of(view)


@router.post("/agents/generate", status_code=201)
async def generate_agent(
    body: AgentGenerate, access: AppAdmin, services: ServicesDep
) -> AgentPublic:
    """The `creator` agent turns a role, capabilities and a reason into a new agent; its
    answer is validated before it is stored (422 with the problems when it is not valid)."""
    view = await services.agents.generate_agent(
        access.app_id,
        body.role,
        body.capabilities,
        body.reason,
        model=body.model,
        user_id=access.principal.user_id,
    )
    return AgentPublic.of(view)


@router.post("/agents/{name}/invoke", responses=SSE_RESPONSE)
async def invoke_agent(
    name: str, body: AgentInvoke, request: Request, access: AppMember, services: ServicesDep
) -> Any:
    """One task, the answer (in a new session). Server-Sent Events with `stream: true` or
    `Accept: text/event-stream`."""
    user_id = access.principal.user_id
    if body.stream or "text/event-stream" in request.headers.get("accept", ""):
        session_id, run_id, events = await start_chat_turn(
            services,
            access.app_id,
            name,
            body.task,
            session_id=None,
            user_id=user_id,
            model=body.model,
        )
        return EventSourceResponse(sse_turn(session_id, run_id, events), ping=15)
    session_id, run_id = await services.agents.send(
        access.app_id, name, body.task, session_id=None, user_id=user_id, model=body.model
    )
    return ChatTurnPublic.of(await services.agents.turn(access.app_id, session_id, run_id))


@router.get("/tools")
async def list_tools(access: AppViewer, services: ServicesDep) -> list[dict[str, Any]]:
    """The tools agents may be given (built in and registered in code), with their schemas."""
    return services.agents.tools()


@router.get("/tool-calls")
async def list_tool_calls(
    access: AppViewer,
    services: ServicesDep,
    run_id: Annotated[str | None, Query(max_length=80)] = None,
    agent: Annotated[str | None, Query(max_length=64)] = None,
    tool: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(pattern="^(ok|error|skipped)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=80)] = None,
) -> ToolCallPage:
    """Every tool execution, oldest first: arguments, result or error, status, duration."""
    filters = ToolCallFilter(run_id=run_id, agent=agent, tool=tool, status=status)
    # One more than a page: whether there is a next page (a full last page has none).
    records = await services.agents.tool_calls(
        access.app_id, filters, limit=limit + 1, after=cursor
    )
    more, records = len(records) > limit, records[:limit]
    next_cursor = records[-1].id if more else None
    return ToolCallPage(items=[ToolCallPublic.of(r) for r in records], next_cursor=next_cursor)
