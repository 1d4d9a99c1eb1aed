"""FastAPI dependencies as `Annotated` aliases: the services, the caller, the caller's app."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from podium.agents.messages import AgentMessageService
from podium.agents.service import AgentService
from podium.api.metrics import Metrics
from podium.api.ratelimit import LoginLimiter, RateLimiter
from podium.auth.invitations import Invitations
from podium.auth.service import AuthService
from podium.auth.tenancy import Principal, Role, Tenancy
from podium.config import Settings
from podium.engine.retention import Retention
from podium.engine.runtime import Podium
from podium.errors import Forbidden, Unauthorized
from podium.memory.service import MemoryService
from podium.packs.service import PackService
from podium.sessions.artifacts import ArtifactService
from podium.sessions.schedules import ScheduleService
from podium.sessions.service import SessionService
from podium.webhooks.service import WebhookService
from podium.workflows.service import WorkflowService


@dataclass(slots=True)
class OpenSockets:
    """How many WebSocket connections this process holds open."""

    open: int = 0


@dataclass(slots=True)
class Services:
    """Everything the routes call, made once per server (FastAPI lifespan)."""

    settings: Settings
    podium: Podium
    auth: AuthService
    tenancy: Tenancy
    sessions: SessionService
    agents: AgentService
    limiter: RateLimiter
    metrics: Metrics
    sockets: OpenSockets
    memory: MemoryService
    agent_messages: AgentMessageService
    artifacts: ArtifactService
    workflows: WorkflowService
    packs: PackService
    # Made from the others here, so that api/app.py need not know them.
    login_limiter: LoginLimiter = field(init=False)
    invitations: Invitations = field(init=False)
    retention: Retention = field(init=False)
    schedules: ScheduleService = field(init=False)
    webhooks: WebhookService = field(init=False)

    def __post_init__(self) -> None:
        settings = self.settings
        self.login_limiter = LoginLimiter(
            settings.login_rate_limit, settings.login_address_rate_limit, self.podium.store
        )
        self.invitations = Invitations(self.tenancy, settings)
        self.retention = Retention(self.podium.store, settings)
        self.schedules = ScheduleService(self.sessions)
        self.webhooks = WebhookService(self.podium.store, settings)


async def get_services(request: Request) -> Services:  # async: no thread-pool hop
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

_bearer = HTTPBearer(auto_error=False, description="an access token from /auth/login")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="an app's API key")


async def get_principal(
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    principal = await services.tenancy.authenticate(bearer.credentials if bearer else None, api_key)
    await services.limiter.hit(principal.rate_key)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("this is for platform administrators (is_admin)")
    return principal


PlatformAdmin = Annotated[Principal, Depends(get_admin)]

OPERATORS = (
    "platform administrators, or a scraper sending 'Authorization: Bearer <PODIUM_METRICS_TOKEN>'"
)


async def is_operator(
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> bool:
    """Whether the caller may see server-wide counts: a platform admin or the scrape token.
    False for a caller with no credential; 401/403 for a bad or a tenant's credential."""
    token = bearer.credentials if bearer else None
    scrape = services.settings.metrics_token
    if scrape and token and hmac.compare_digest(token.encode(), scrape.encode()):
        return True
    if not token and not api_key:
        return False
    principal = await get_principal(services, bearer, api_key)
    if not principal.is_admin:
        raise Forbidden(f"server-wide counts are for {OPERATORS}")
    return True


OperatorOrAnyone = Annotated[bool, Depends(is_operator)]


async def get_operator(operator: OperatorOrAnyone) -> None:
    if not operator:
        raise Unauthorized(f"metrics are for {OPERATORS}")


Operator = Annotated[None, Depends(get_operator)]


@dataclass(frozen=True, slots=True)
class AppAccess:
    """The caller inside one app: its id, the caller and the caller's role there."""

    app_id: str
    principal: Principal
    role: str


def _app_access(least: Role):  # type: ignore[no-untyped-def]
    async def dependency(
        services: ServicesDep,
        principal: CurrentPrincipal,
        app_id: Annotated[str, Path(max_length=80, description="the app's id (app_…)")],
    ) -> AppAccess:
        role = await services.tenancy.require(principal, app_id, least)
        return AppAccess(app_id, principal, role)

    return dependency


AppViewer = Annotated[AppAccess, Depends(_app_access("viewer"))]
AppMember = Annotated[AppAccess, Depends(_app_access("member"))]
AppAdmin = Annotated[AppAccess, Depends(_app_access("admin"))]
