"""Packs per app: list what is installed, enable (flows, agents, workflow graph, seed) and
disable, and the state of their event handlers. What the `/apps/{app}/packs` routes call."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from podium.agents.service import AgentService
from podium.engine.flow import Flow
from podium.engine.loader import parse_flow
from podium.engine.runtime import Podium
from podium.errors import InvalidInput, NotFound
from podium.packs.base import Pack, PackContext, subscription_of
from podium.sessions.service import SessionService
from podium.storage import packs as tx

FLOW_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(slots=True)
class PackView:
    pack: Pack
    enabled: bool

    def to_json(self) -> dict[str, Any]:
        pack = self.pack
        return {
            "name": pack.name,
            "description": pack.description,
            "enabled": self.enabled,
            "flows": flow_names(pack),
            "agents": [str(agent.get("name", "")) for agent in pack.agents],
            "handlers": [
                {"name": s.name, "event_types": list(s.event_types)}
                for s in map(subscription_of, pack.handlers)
            ],
            "routes": pack.router is not None,
            "tables": pack.migrations is not None,
            "workflow_graph": pack.workflow_graph is not None,
        }


def pack_flows(pack: Pack) -> list[tuple[Flow, Path | None]]:
    """The pack's flows with the folder their `python` nodes are found from."""
    found: list[tuple[Flow, Path | None]] = []
    if pack.flows_dir is not None:
        for path in sorted(Path(pack.flows_dir).iterdir()):
            if path.suffix.lower() not in FLOW_SUFFIXES:
                continue
            text = path.read_text(encoding="utf-8")
            data = yaml.safe_load(text) if path.suffix.lower() != ".json" else json.loads(text)
            found.append((parse_flow(data, source=f"{pack.name}: {path.name}"), path.parent))
    found += [(flow, None) for flow in pack.flows]
    return found


def workflow_graph(pack: Pack) -> Any:
    """The pack's gates and journeys as JSON (what PUT /workflow-graphs/{name} takes)."""
    assert pack.workflow_graph is not None
    try:
        return json.loads(Path(pack.workflow_graph).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(
            f"pack {pack.name!r}: its workflow graph {pack.workflow_graph} cannot be read: {exc}"
        ) from None


def flow_names(pack: Pack) -> list[str]:
    try:
        return [flow.name for flow, _ in pack_flows(pack)]
    except (OSError, InvalidInput):  # shown as it is; enabling says what is wrong
        return []


class PackServices:
    """The runtime's services as a pack's seed and handlers see them (`ctx.services`)."""

    def __init__(self, podium: Podium, sessions: SessionService | None = None) -> None:
        self.podium = podium
        self.store = podium.store
        self.settings = podium.settings
        self.sessions = sessions or SessionService(podium)
        self.agents = podium.service("agents")  # podium.agents.services.AgentServices
        self.artifacts = podium.service("artifacts")  # podium.sessions.artifacts.ArtifactService

    @property
    def memory(self) -> Any:
        from podium.memory.service import MemoryService

        return MemoryService(self.store)

    def context(self, app_id: str, pack: str) -> PackContext:
        async def credentials(service: str) -> dict[str, Any] | None:
            found: dict[str, Any] | None = await self.agents.credentials(app_id, service)
            return found

        return PackContext(app_id, self.store, self.settings, self, credentials, pack)


class PackService:
    """The installed packs (the registry's), enabled per app."""

    def __init__(
        self, podium: Podium, sessions: SessionService, agents: AgentService | None = None
    ) -> None:
        self.podium = podium
        self.store = podium.store
        self.sessions = sessions
        self.agents = agents or AgentService(sessions)
        self.packs: dict[str, Pack] = {pack.name: pack for pack in podium.registry.packs}
        self.services = PackServices(podium, sessions)

    def get(self, name: str) -> Pack:
        pack = self.packs.get(name)
        if pack is None:
            installed = ", ".join(sorted(self.packs)) or "none"
            raise NotFound(
                f"no pack named {name!r} is installed (installed: {installed}); the operator "
                "installs packs with PODIUM_PACKS or the podium.packs entry points"
            )
        return pack

    async def list(self, app_id: str) -> list[PackView]:
        enabled = await self.store.run_read(lambda: tx.enabled_packs(app_id))
        return [PackView(self.packs[n], n in enabled) for n in sorted(self.packs)]

    async def is_enabled(self, app_id: str, name: str) -> bool:
        enabled: bool = await self.store.run_read(lambda: tx.pack_enabled(app_id, name))
        return enabled

    async def enable(self, app_id: str, name: str, actor: str | None) -> PackView:
        """Enable the pack for the app: its flows and agents registered there, its workflow
        graph applied, its seed run. Idempotent: enabling again updates and seeds again."""
        pack = self.get(name)
        for flow, base_path in pack_flows(pack):
            await self.podium.register_flow(flow, app_id=app_id, base_path=base_path)
        for agent in pack.agents:
            await self.agents.define_agent(
                app_id, agent, actor, what=f"agent of pack {pack.name!r}"
            )
        if pack.workflow_graph is not None:
            await self.sessions.gates.put_graph(app_id, pack.name, workflow_graph(pack))
        handlers = [subscription_of(handler).name for handler in pack.handlers]
        await self.store.run_script(lambda: tx.enable_pack(app_id, name, handlers, time.time()))
        if pack.seed is not None:
            await pack.seed(self.services.context(app_id, pack.name))
        return PackView(pack, True)

    async def disable(self, app_id: str, name: str) -> None:
        """Disable the pack: its routes answer 404 and its handlers stop for the app; its
        flows, agents and rows stay (enabling again picks them up)."""
        pack = self.get(name)
        await self.store.run_script(lambda: tx.disable_pack(app_id, name))
        if pack.workflow_graph is not None:
            with contextlib.suppress(NotFound):  # an admin deleted it already
                await self.sessions.gates.delete_graph(app_id, pack.name)

    async def handlers(self, app_id: str, name: str) -> dict[str, Any]:
        """Each handler's position in the app's log and the events it retries or gave up on."""
        pack = self.get(name)
        cursors, failures = await self.store.run_read(lambda: tx.handler_states(app_id, name))
        return {
            "pack": pack.name,
            "enabled": await self.is_enabled(app_id, name),
            "handlers": [
                {
                    "name": s.name,
                    "event_types": list(s.event_types),
                    "last_seq": cursors.get(s.name),
                }
                for s in map(subscription_of, pack.handlers)
            ],
            "failures": [failure.to_json() for failure in failures],
        }
