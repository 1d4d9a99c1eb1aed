"""What an agent needs at run time: definitions, tools, providers, credentials.

One `AgentServices` per runtime (the composition root's `agents` runtime service), shared by
the agent loop in workers and by the API. It reads an app's stored agents, provider
configurations (keys decrypted with the server secret), integration settings and MCP
servers, and writes the tool-call log and which agents are busy.
"""

from __future__ import annotations

import importlib
import time
from typing import TYPE_CHECKING, Any

from podium import egress
from podium.agents.builtin import BUILTIN_AGENTS
from podium.agents.definition import AgentDefinition, parse_definition
from podium.auth.service import server_secret
from podium.config import Settings
from podium.errors import NotFound
from podium.events import names
from podium.events.envelope import Event
from podium.llm.base import Provider
from podium.llm.providers import (
    ProviderConfig,
    get_provider,
    load_provider_module,
    resolve_model,
)
from podium.secretbox import SecretBox
from podium.storage import agents as tx
from podium.storage.agents import MCPServerRecord, ToolCallRecord
from podium.storage.store import Store
from podium.tools.base import DEFAULT, Tool, ToolSet
from podium.tools.mcp_config import MCPServerConfig

if TYPE_CHECKING:
    from podium.engine.context import Context

MCP_PREFIX = "mcp:"


class AgentServices:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._box: SecretBox | None = None
        load_tool_modules(settings.tool_modules)
        # Every outbound request an app can aim passes the egress policy of these settings.
        egress.configure(settings)

    async def box(self) -> SecretBox:
        if self._box is None:
            self._box = SecretBox(await server_secret(self.store, self.settings))
        return self._box

    # --- definitions ------------------------------------------------------------------

    async def definition(self, app_id: str, name: str) -> AgentDefinition:
        """The app's agent of that name (its latest version), else the built-in one."""
        record = await self.store.run_read(lambda: tx.get_agent(app_id, name))
        if record is not None:
            return parse_definition(record.definition)
        builtin = BUILTIN_AGENTS.get(name)
        if builtin is None:
            raise NotFound(
                f"no agent named {name!r} in this app; define it with POST /agents or use a "
                f"built-in one: {sorted(BUILTIN_AGENTS)}"
            )
        return builtin

    async def all_definitions(self, app_id: str) -> dict[str, AgentDefinition]:
        """Built-in agents, overridden by the app's own of the same name."""
        records = await self.store.run_read(lambda: tx.list_agents(app_id))
        found = dict(BUILTIN_AGENTS)
        for record in records:
            found[record.name] = parse_definition(record.definition)
        return found

    # --- models -----------------------------------------------------------------------

    async def provider_configs(self, app_id: str) -> dict[str, ProviderConfig]:
        records = await self.store.run_read(lambda: tx.list_providers(app_id))
        if not records:
            return {}
        box = await self.box()
        configs = {}
        for record in records:
            key = box.open(record.api_key_encrypted) if record.api_key_encrypted else None
            options = record.options or {}
            configs[record.name] = ProviderConfig(
                name=record.name,
                kind=record.kind,
                base_url=record.base_url,
                api_key=key,
                timeout_seconds=float(
                    options.get("timeout_seconds", self.settings.llm_timeout_seconds)
                ),
                max_retries=int(options.get("max_retries", self.settings.llm_max_retries)),
            )
        return configs

    async def model_ref(
        self, app_id: str, agent: AgentDefinition, node_model: str | None, flow_model: str | None
    ) -> str:
        """Node override → agent's model → flow default → app default → server default."""
        ref = node_model or agent.model or flow_model
        if ref:
            return ref
        app_model = await self.store.run_read(lambda: tx.app_default_model(app_id))
        return app_model or self.settings.default_model

    async def provider(self, app_id: str, model_ref: str) -> tuple[Provider, ProviderConfig, str]:
        config, model = resolve_model(model_ref, await self.provider_configs(app_id), self.settings)
        await load_provider_module(config.kind)
        return get_provider(config), config, model

    # --- tools ------------------------------------------------------------------------

    def mcp_config(self, app_id: str, record: MCPServerRecord) -> MCPServerConfig:
        """The configuration an app's MCP server stands for: its own http server, or the
        operator's stdio server it was enabled to use (`MCPServerUnavailable` when that is
        not offered)."""
        from podium.tools.mcp_config import operator_servers, stored_config

        if record.config.get("transport") == "http":
            return stored_config(record.config, {}, app_id)
        offered = operator_servers(self.settings.mcp_stdio_servers_file)
        return stored_config(record.config, offered, app_id)

    async def mcp_tools(self, app_id: str, server: str | None = None) -> list[Tool]:
        from podium.tools.mcp import connections

        records = await self.store.run_read(lambda: tx.list_mcp_servers(app_id))
        found: list[Tool] = []
        for record in records:
            if server is not None and record.name != server:
                continue
            found += await connections().tools(self.mcp_config(app_id, record))
        return found

    async def toolset(self, app_id: str, agent: AgentDefinition) -> ToolSet:
        """The agent's allow-list resolved to tools. A name that is not a known tool is left
        out (the agent cannot call it); an MCP server that cannot be reached gives none."""
        import podium.tools.integrations  # noqa: F401  (registers the integration tools)

        tools: dict[str, Tool] = {}
        wanted_servers = {n[len(MCP_PREFIX) :] for n in agent.tools if n.startswith(MCP_PREFIX)}
        plain = [n for n in agent.tools if not n.startswith(MCP_PREFIX)]
        for name in plain:
            found = DEFAULT.get(name)
            if found is not None:
                tools[name] = found
        missing = [n for n in plain if n not in tools]
        if wanted_servers or any("__" in n for n in missing):
            try:
                mcp = await self.mcp_tools(app_id)
            except Exception:  # an unreachable MCP server: its tools are not offered
                mcp = []
            for item in mcp:
                server = item.source[len(MCP_PREFIX) :]
                if server in wanted_servers or item.name in missing:
                    tools[item.name] = item
        return ToolSet(tools)

    async def credentials(self, app_id: str, service: str) -> dict[str, Any] | None:
        """An app's integration settings, else the server's (from the environment)."""
        from podium.tools.integrations import settings_credentials, with_defaults

        record = await self.store.run_read(lambda: tx.get_integration(app_id, service))
        if record is not None:
            box = await self.box()
            stored = box.open_json(record.config_encrypted)
            server_url = getattr(self.settings, f"{service}_base_url", None)
            if server_url and not stored.get("base_url"):
                stored["base_url"] = server_url
            return with_defaults(service, stored)
        return settings_credentials(service, self.settings)

    async def log_tool_call(self, record: ToolCallRecord) -> None:
        await self.store.run_script(lambda: tx.log_tool_call(record))

    # --- activity ---------------------------------------------------------------------

    async def busy(self, app_id: str, agent: str, session_id: str, run_id: str, scope: str) -> None:
        now = time.time()
        await self.store.run_script(lambda: tx.agent_busy(app_id, agent, run_id, scope, now))
        await self.status(app_id, agent, session_id, run_id, "busy")

    async def status(
        self, app_id: str, agent: str, session_id: str, run_id: str, status: str
    ) -> None:
        """Write an `agent.status` event at once (not with a step's end)."""
        data = {"agent": agent, "status": status}
        await self.write_event(app_id, session_id, run_id, names.AGENT_STATUS, data)

    async def write_event(
        self, app_id: str, session_id: str, run_id: str, kind: str, data: dict[str, Any]
    ) -> int:
        """Write one event now (not with a step's end); its seq."""
        [event] = await self.store.append_events(
            app_id, [Event(kind, app_id, session_id, run_id, data)]
        )
        assert event.seq is not None
        return event.seq

    async def idle(self, run_id: str, scope: str) -> None:
        await self.store.run_script(lambda: tx.agent_idle(run_id, scope))

    async def activity(self, app_id: str) -> dict[str, list[str]]:
        result: dict[str, list[str]] = await self.store.run_read(lambda: tx.agent_activity(app_id))
        return result


def load_tool_modules(modules: list[str]) -> None:
    """Import the modules that register tools (PODIUM_TOOL_MODULES), and the integrations."""
    import podium.tools.integrations  # noqa: F401

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ImportError(
                f"PODIUM_TOOL_MODULES names {module!r}, which cannot be imported: {exc}"
            ) from exc


def agent_services(ctx: Context) -> AgentServices:
    """The runtime's agent services, as node code reaches them."""
    found: AgentServices = ctx.runtime_service("agents")
    return found
