"""`/a2a/{app_id}/{agent}`: every agent of an app is an A2A agent (docs/a2a.md).

- `GET /a2a/{app_id}/{agent}/.well-known/agent-card.json`: the agent's card (viewers);
- `POST /a2a/{app_id}/{agent}`: its JSON-RPC endpoint (members), A2A v1.0
  (`A2A-Version: 1.0`), answered by `a2a-sdk`'s dispatcher over `podium.api.a2a`.

The caller is authenticated before the dispatcher sees the request: an app's API key as
`Authorization: Bearer pk_...` (or `X-API-Key`), or a user's access token. Another app's
key, like an app that does not exist, is 404; no credential or a revoked key is 401.

The SDK (and what it imports: protobuf, SQLAlchemy) is loaded on the first A2A request, not
when the server starts: ~20 MiB of a server's idle memory that most deployments never use.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse

from podium.api.deps import ServicesDep
from podium.auth.tenancy import KEY_PREFIX, Principal, Role

if TYPE_CHECKING:
    from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher

    from podium.api.a2a import A2AScope

router = APIRouter(prefix="/a2a", tags=["a2a"])

AppId = Annotated[str, Path(max_length=80, description="the app's id (app_...)")]
AgentName = Annotated[str, Path(max_length=64, description="the agent's name")]


@functools.cache
def dispatcher() -> JsonRpcDispatcher:
    from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher

    from podium.api.a2a import PodiumA2AHandler, ScopeContextBuilder

    return JsonRpcDispatcher(PodiumA2AHandler(), context_builder=ScopeContextBuilder())


async def _caller(services: ServicesDep, request: Request) -> Principal:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    bearer = token if scheme.lower() == "bearer" and token else None
    api_key = request.headers.get("x-api-key") or None
    if bearer is not None and bearer.startswith(KEY_PREFIX):
        bearer, api_key = None, bearer
    principal = await services.tenancy.authenticate(bearer, api_key)
    await services.limiter.hit(principal.rate_key)
    return principal


async def _scope(
    services: ServicesDep, request: Request, app_id: str, agent: str, least: Role
) -> A2AScope:
    from podium.api.a2a import A2AScope

    principal = await _caller(services, request)
    await services.tenancy.require(principal, app_id, least)
    view = await services.agents.get_agent(app_id, agent)  # 404: no such agent
    return A2AScope(services, app_id, view, principal)


def endpoint_url(request: Request, app_id: str, agent: str) -> str:
    return str(request.url_for("a2a_rpc", app_id=app_id, agent=agent))


@router.get("/{app_id}/{agent}/.well-known/agent-card.json")
async def a2a_agent_card(
    app_id: AppId, agent: AgentName, request: Request, services: ServicesDep
) -> JSONResponse:
    """The A2A agent card of one agent of the app: its endpoint, skills and security."""
    from a2a.server.request_handlers.response_helpers import agent_card_to_dict

    from podium.api.a2a import agent_card

    scope = await _scope(services, request, app_id, agent, "viewer")
    card = agent_card(scope.agent, endpoint_url(request, app_id, agent))
    return JSONResponse(agent_card_to_dict(card))


@router.post("/{app_id}/{agent}", name="a2a_rpc")
async def a2a_rpc(
    app_id: AppId, agent: AgentName, request: Request, services: ServicesDep
) -> Response:
    """The agent's A2A JSON-RPC endpoint: SendMessage, SendStreamingMessage (SSE), GetTask,
    CancelTask, SubscribeToTask (SSE); errors are JSON-RPC errors."""
    request.state.a2a = await _scope(services, request, app_id, agent, "member")
    return await dispatcher().handle_requests(request)
