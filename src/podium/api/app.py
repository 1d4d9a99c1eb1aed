"""The app factory: `create_app(settings)` opens the engine and the services for the app's
lifetime and mounts every router under `/api/v1`."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.routing import Route

from podium.agents.messages import AgentMessageService
from podium.agents.service import AgentService
from podium.api import errors
from podium.api.bodylimit import BodyLimitMiddleware
from podium.api.cors import install_cors
from podium.api.deps import OpenSockets, Services
from podium.api.jsonbody import JSONBodyMiddleware
from podium.api.mcp_server import MCPEndpoint, MCPErrorMiddleware, mcp_path, mcp_path_pattern
from podium.api.metrics import Metrics
from podium.api.ratelimit import RateLimiter
from podium.api.routes import (
    a2a,
    agent_messages,
    agents,
    apps,
    artifacts,
    auth,
    budgets,
    chat,
    events,
    flows,
    invitations,
    knowledge,
    knowledge_samples,
    memory,
    operations,
    packs,
    providers,
    retention,
    runs,
    schedules,
    sessions,
    setup,
    users,
    webhooks,
    workflow_graphs,
    workflows,
    ws,
)
from podium.api.routes.packs import mount_pack_routers
from podium.auth.service import AuthService
from podium.auth.tenancy import Tenancy
from podium.config import Settings
from podium.console import mount_console
from podium.engine.registry import Registry
from podium.engine.runtime import Podium
from podium.jsonvalue import JSONLimits
from podium.llm.providers import close_providers
from podium.memory.service import MemoryService
from podium.packs.handlers import HandlerRunner
from podium.packs.service import PackService
from podium.sessions.artifacts import ArtifactService
from podium.sessions.service import SessionService
from podium.version import __version__
from podium.workflows.service import WorkflowService

PREFIX = "/api/v1"


async def _close_mcp_connections() -> None:
    """Close the MCP client sessions agents opened; the SDK is loaded only when one was."""
    module = sys.modules.get("podium.tools.mcp")
    if module is not None:
        await module.close_connections()


def create_app(settings: Settings, *, workers: int | None = None, registry: Registry) -> FastAPI:
    """The API over a `Podium` opened (migrated, with `workers` slots) while the app runs,
    made of `registry` (`podium.assembly.create_app` gives the default one)."""

    mcp_endpoint = MCPEndpoint(settings.max_body_bytes)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            Podium.open(settings=settings, workers=workers, registry=registry) as podium,
            mcp_endpoint.run(),
        ):
            auth_service = AuthService(podium.store, settings)
            await auth_service.open()
            session_service = SessionService(podium)
            await session_service.open()
            agent_service = AgentService(session_service)
            metrics = Metrics()
            memory_service = MemoryService(podium.store)
            artifact_service = ArtifactService(session_service)
            # Node code of runs in this process acts through the API's own services.
            podium.services.provide("artifacts", artifact_service)
            pack_service = PackService(podium, session_service, agent_service)
            podium.store.add_step_listener(metrics.observe_steps)
            app.state.podium = podium
            app.state.services = Services(
                settings=settings,
                podium=podium,
                auth=auth_service,
                tenancy=Tenancy(podium.store, auth_service),
                sessions=session_service,
                agents=agent_service,
                limiter=RateLimiter(settings.rate_limit, store=podium.store),
                metrics=metrics,
                sockets=OpenSockets(),
                memory=memory_service,
                agent_messages=AgentMessageService(podium.store),
                artifacts=artifact_service,
                workflows=WorkflowService(session_service, agent_service),
                packs=pack_service,
            )
            memory_service.start_sweeper()  # expired entries: invisible at once, swept later
            # Packs' event handlers run in every server process (a lease per cursor keeps
            # them from running twice at once).
            handler_runner = HandlerRunner(pack_service.services, registry.packs)
            handler_runner.start()
            try:
                yield
            finally:
                drain = getattr(app.state, "drain_seconds", None)
                if drain is not None:  # set by `podium serve`: SIGTERM drains (docs/deploy.md)
                    await podium.drain_workers(drain)
                await handler_runner.stop()
                await memory_service.close()
                await _close_mcp_connections()
                await close_providers()

    app = FastAPI(
        title="Podium",
        version=__version__,
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry (spans and metrics on the global providers, exporters
        # from FASTAPI_OTEL_* variables) stays off: Podium traces with its own provider when
        # the operator turns it on (podium/tracing.py), and the check on every request was
        # ~3 % of an API process's CPU (benchmarks/README.md, H2).
        telemetry={"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
        description="Durable AI agents and multi-agent flows: apps, flows, sessions, runs "
        "and live events.",
    )
    errors.install(app)
    # The JSON check inside the size bound: a body is read whole only when under the limit.
    # POST /apps/{app_id}/flows also reads YAML (turned into JSON there).
    app.add_middleware(
        JSONBodyMiddleware,
        limits=JSONLimits.from_settings(settings),
        yaml_paths=[re.compile(rf"{PREFIX}/apps/[^/]+/flows")],
    )
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        paths=[knowledge.batch_limit(PREFIX, settings)],
    )
    # Outside the limits: their refusals on /mcp reach MCP clients as JSON-RPC errors.
    app.add_middleware(MCPErrorMiddleware, path=mcp_path_pattern(PREFIX))
    install_cors(app, settings)  # added last: the outermost, before the limits
    routers = (auth, setup, users, apps, flows, sessions, runs, events, agents, chat, providers)
    for module in (*routers, workflow_graphs, memory, agent_messages, artifacts, workflows, ws):
        app.include_router(module.router, prefix=PREFIX, responses=errors.ERROR_RESPONSES)
    app.include_router(invitations.router, prefix=PREFIX, responses=errors.ERROR_RESPONSES)
    app.include_router(schedules.router, prefix=PREFIX, responses=errors.ERROR_RESPONSES)
    app.include_router(webhooks.router, prefix=PREFIX, responses=errors.ERROR_RESPONSES)
    app.include_router(budgets.router, prefix=PREFIX, responses=errors.ERROR_RESPONSES)
    app.include_router(knowledge.router, prefix=PREFIX, responses=errors.ERROR_RESPONSES)
    app.include_router(knowledge_samples.router, prefix=PREFIX, responses=errors.ERROR_RESPONSES)
    app.include_router(operations.router, prefix=PREFIX)
    app.include_router(packs.router, prefix=PREFIX, responses=errors.ERROR_RESPONSES)
    app.include_router(retention.router, prefix=PREFIX, responses=errors.ERROR_RESPONSES)
    mount_pack_routers(app, PREFIX, registry.packs)
    # A2A where its clients look for an agent: /a2a/{app_id}/{agent} (docs/a2a.md).
    app.include_router(a2a.router, responses=errors.ERROR_RESPONSES)
    # Each app as an MCP server (docs/mcp-server.md): the SDK's ASGI app behind our checks.
    # POST only: stateless, with JSON answers, there is no stream to GET nor session to DELETE.
    app.router.routes.append(Route(mcp_path(PREFIX), mcp_endpoint, methods=["POST"]))
    # Probes where orchestrators look for them, too.
    for path, endpoint in (
        ("/health", operations.health),
        ("/ready", operations.ready),
        ("/metrics", operations.metrics),
    ):
        app.add_api_route(path, endpoint, methods=["GET"], include_in_schema=False)
    mount_console(app)  # `/` redirects to `/console/`
    return app
