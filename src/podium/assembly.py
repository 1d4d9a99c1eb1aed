"""The composition root: the one module that imports every layer and assembles the
application (DESIGN §9).

`default_registry()` is the registry of a Podium server: the engine's node types and the
agents' (`agent`, `tool`, `collaboration_turn`), the services node code reaches through
`ctx` (`artifacts`, `sessions`, `memory`, `agent_messages`), the services made once per
runtime (`agents`, `artifacts`), and the installed packs (`podium.packs.loader`) with the
node types, tools and migrations they bring. It is handed down to
`Podium.open(...)`, `create_app(...)` and the CLI; nothing below finds a layer above it by
module name.

    from podium import Podium                       # opens with default_registry()
    async with Podium.open("sqlite:///podium.db") as podium: ...
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from podium.agents.collaboration import CollaborationTurnNode
from podium.agents.messages import NodeAgentMessages
from podium.agents.nodes import AgentNode, ToolNode
from podium.agents.services import AgentServices
from podium.config import Settings, get_settings
from podium.engine import loader
from podium.engine import runtime as engine_runtime
from podium.engine.flow import Flow
from podium.engine.graph import Graph
from podium.engine.nodes import ENGINE_NODE_TYPES
from podium.engine.registry import Registry
from podium.knowledge.service import Embedder, KnowledgeService
from podium.llm import embeddings
from podium.memory.context import NodeMemory
from podium.packs.base import Pack
from podium.packs.loader import PackLoadError, discover
from podium.sessions.artifacts import ArtifactService
from podium.sessions.context import NodeArtifacts, NodeSessions
from podium.sessions.service import SessionService
from podium.storage import knowledge as knowledge_tx

if TYPE_CHECKING:
    from fastapi import FastAPI

AGENT_NODE_TYPES = (AgentNode, ToolNode, CollaborationTurnNode)
# The packs that ship with podium (name → module; installed through their `podium.packs`
# entry points), which `podium demo` enables and walks through.
SHIPPED_PACKS = {"appbuilder": "podium.packs.appbuilder", "leads": "podium.packs.leads"}


def _agent_services(runtime: engine_runtime.Podium) -> AgentServices:
    return AgentServices(runtime.store, runtime.settings, runtime.registry.tools)


def _knowledge_service(runtime: engine_runtime.Podium) -> KnowledgeService:
    store, settings = runtime.store, runtime.settings
    agents: AgentServices = runtime.service("agents")

    async def embedder_for(app_id: str) -> Embedder | None:
        # The app's embeddings model, else the server's; resolved like a chat model.
        ref = await store.run_read(lambda: knowledge_tx.app_embedding_model(app_id))
        ref = ref or settings.embedding_model
        if not ref:
            return None
        return await embeddings.embedder(ref, await agents.provider_configs(app_id), settings)

    return KnowledgeService(store, settings, embedder_for=embedder_for)


def _artifact_service(runtime: engine_runtime.Podium) -> ArtifactService:
    # A runtime without the API (a `podium worker` process, a library user): its own
    # session service, opened on first use (sessions.context.artifact_service).
    return ArtifactService(SessionService(runtime))


def default_registry(settings: Settings | None = None) -> Registry:
    """The assembled registry for `settings` (the environment's by default): one per
    configuration of packs (PODIUM_PACKS), shared by every runtime of the process."""
    settings = settings or get_settings()
    return _assemble(tuple(settings.packs))


@functools.cache
def _assemble(pack_specs: tuple[str, ...]) -> Registry:
    registry = Registry()
    registry.add_node_types(ENGINE_NODE_TYPES)
    registry.add_node_types(AGENT_NODE_TYPES)
    registry.context_services.update(
        artifacts=NodeArtifacts,
        sessions=NodeSessions,
        memory=NodeMemory,
        agent_messages=NodeAgentMessages,
    )
    registry.runtime_services.update(agents=_agent_services, artifacts=_artifact_service)
    registry.runtime_services.update(knowledge=_knowledge_service)
    install_packs(registry, discover(list(pack_specs)))
    return registry


def install_packs(registry: Registry, packs: list[Pack]) -> None:
    """Add what the packs contribute that the engine and the agents need before any app
    enables them: node types, tools, migrations; the rest is applied per app on enabling."""
    registry.packs = (*registry.packs, *packs)
    for pack in packs:
        for node_type in pack.node_types:
            if node_type.name in registry.node_types:
                raise PackLoadError(
                    f"pack {pack.name!r} defines node type {node_type.name!r}, which another "
                    "type already has; rename it (e.g. prefix it with the pack's name)"
                )
        registry.add_node_types(pack.node_types)
        for item in pack.tools:
            if registry.tools.get(item.name) is not item:
                registry.tools.add(item)
        if pack.migrations is not None:
            registry.migrations = (*registry.migrations, (pack.name, Path(pack.migrations)))


class Podium(engine_runtime.Podium):
    """The engine with the application's registry: `Podium.open()` with no registry uses
    `default_registry()`, so agent nodes, `ctx.memory`, `ctx.artifacts`… all work."""

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        database_url: str | None = None,
        *,
        workers: int | None = None,
        settings: Settings | None = None,
        migrate: bool = True,
        registry: Registry | None = None,
    ) -> AsyncIterator[engine_runtime.Podium]:
        """`podium.engine.runtime.Podium.open` with the default registry unless one is given."""
        settings = settings or get_settings()
        registry = registry or default_registry(settings)
        opened = super().open(
            database_url, workers=workers, settings=settings, migrate=migrate, registry=registry
        )
        async with opened as podium:
            yield podium


def read_flow_file(
    path: Path | str, settings: Settings | None = None, *, registry: Registry | None = None
) -> tuple[Flow, Graph]:
    """`podium.engine.loader.read_flow_file` against the default registry's node types."""
    return loader.read_flow_file(path, settings, registry=registry or default_registry(settings))


def create_app(
    settings: Settings | None = None,
    *,
    workers: int | None = None,
    registry: Registry | None = None,
) -> FastAPI:
    """The HTTP API over the default registry (what `podium serve` runs)."""
    from podium.api.app import create_app as create_api

    settings = settings or get_settings()
    return create_api(settings, workers=workers, registry=registry or default_registry(settings))
