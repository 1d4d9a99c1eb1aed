"""The agents service behind the API: define, list, generate and invoke agents; chat;
provider, integration and MCP server settings; the tool-call log; health.

A chat is a session of the shipped `chat` flow: each message is a run whose input is
`{agent, message}`, so every chat turn is as durable as any flow (recorded LLM and tool
calls, approvals that wait across restarts).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from podium import jsonvalue
from podium.agents.builtin import (
    BUILTIN_AGENTS,
    builtin_marker,
    is_builtin_marker,
    stored_definition,
)
from podium.agents.definition import AgentDefinition, parse_definition
from podium.agents.services import MCP_PREFIX, AgentServices
from podium.egress import EgressPolicy
from podium.engine.caps import Caps
from podium.errors import (
    AgentInvalid,
    Conflict,
    InvalidInput,
    JSONValueInvalid,
    NotFound,
    PodiumError,
)
from podium.events.envelope import Event
from podium.llm.base import ModelNotConfigured
from podium.llm.providers import (
    KINDS,
    PRESETS,
    configured_presets,
    get_provider,
    load_provider_module,
    server_providers,
    split_model_ref,
)
from podium.sessions.service import SessionService
from podium.storage import agents as tx
from podium.storage.agents import AgentRecord, MCPServerRecord, ProviderRecord, ToolCallRecord
from podium.storage.records import RunRecord
from podium.tools.base import DEFAULT

CHAT_FLOW = "chat"
# How long a chat request waits for the agent's answer before answering 202 with the run.
CHAT_WAIT_SECONDS = 120.0
MAX_HISTORY_LIMIT = 200  # messages in one page of an agent's history


@dataclass(slots=True)
class AgentView:
    definition: AgentDefinition
    source: str  # "builtin" | "app"
    version: int | None
    status: str  # "idle" | "busy"
    active_runs: list[str] = field(default_factory=list)
    created_at: float | None = None


@dataclass(slots=True)
class ChatTurn:
    """A chat message's outcome: the answer, or the run still going / waiting."""

    session_id: str
    run_id: str
    status: str
    answer: str | None
    error: str | None
    question: dict[str, Any] | None = None


class AgentService:
    def __init__(self, sessions: SessionService) -> None:
        self.sessions = sessions
        self.store = sessions.store
        self.settings = sessions.podium.settings
        self.runtime: AgentServices = sessions.podium.service("agents")

    # --- agents -----------------------------------------------------------------------

    async def list_agents(self, app_id: str) -> list[AgentView]:
        records = await self.store.run_read(lambda: tx.list_agents(app_id))
        activity = await self.runtime.activity(app_id)
        views = {
            name: AgentView(agent, "builtin", None, "idle")
            for name, agent in BUILTIN_AGENTS.items()
        }
        for record in records:
            views[record.name] = _view(record)
        for name, view in views.items():
            view.active_runs = activity.get(name, [])
            view.status = "busy" if view.active_runs else "idle"
        return [views[name] for name in sorted(views)]

    async def get_agent(self, app_id: str, name: str) -> AgentView:
        record = await self.store.run_read(lambda: tx.get_agent(app_id, name))
        if record is not None:
            view = _view(record)
        elif name in BUILTIN_AGENTS:
            view = AgentView(BUILTIN_AGENTS[name], "builtin", None, "idle")
        else:
            raise NotFound(f"no agent named {name!r} in this app")
        view.active_runs = (await self.runtime.activity(app_id)).get(name, [])
        view.status = "busy" if view.active_runs else "idle"
        return view

    async def define_agent(
        self, app_id: str, data: Any, created_by: str | None, *, what: str = "agent definition"
    ) -> AgentView:
        """Validate and store a definition (a new version when it changed). A disabled agent
        stays disabled unless the definition says `enabled`."""
        agent = parse_definition(data, what=what, caps=Caps.from_settings(self.settings))
        await self.check_definition(app_id, agent, what=what)
        if "enabled" not in data:
            current = await self.store.run_read(lambda: tx.get_agent(app_id, agent.name))
            if current is not None and not stored_definition(current.definition).enabled:
                agent = agent.model_copy(update={"enabled": False})
        definition = agent.to_json()
        record = await self.store.run_script(
            lambda: tx.save_agent(app_id, agent.name, definition, created_by, time.time())
        )
        return _view(record)

    async def set_enabled(
        self, app_id: str, name: str, enabled: bool, created_by: str | None
    ) -> AgentView:
        """Disable (or enable) an agent: its next version says so. A built-in's version is a
        marker naming it (`builtin_marker`); the same state again stores nothing."""
        record = await self.store.run_read(lambda: tx.get_agent(app_id, name))
        if record is not None and not is_builtin_marker(record.definition):
            definition = parse_definition(record.definition).model_copy(update={"enabled": enabled})
            data = definition.to_json()
        elif name in BUILTIN_AGENTS:
            data = builtin_marker(name, enabled=enabled)
        else:
            raise NotFound(f"no agent named {name!r} in this app")
        await self.store.run_script(
            lambda: tx.save_agent(app_id, name, data, created_by, time.time())
        )
        return await self.get_agent(app_id, name)

    async def delete_agent(self, app_id: str, name: str) -> None:
        """Remove an app's agent, every version; a built-in can only be disabled (an app's
        agent that replaced a built-in is removed, and the built-in is back)."""
        record = await self.store.run_read(lambda: tx.get_agent(app_id, name))
        if record is None and name not in BUILTIN_AGENTS:
            raise NotFound(f"no agent named {name!r} in this app")
        if record is None or is_builtin_marker(record.definition):
            raise Conflict(
                f"{name!r} is a built-in agent: it cannot be deleted; disable it with "
                f"POST /api/v1/apps/{app_id}/agents/{name}/disable",
                details={"agent": name, "source": "builtin"},
            )
        await self.store.run_script(lambda: tx.delete_agent(app_id, name))

    async def agent_history(
        self, app_id: str, name: str, *, limit: int, before: int | None
    ) -> tuple[list[Event], int | None]:
        """A page of the agent's messages, newest first (see `tx.agent_history`), and the
        seq to read the older page before (None when this page is the oldest)."""
        if not 1 <= limit <= MAX_HISTORY_LIMIT:
            raise InvalidInput(f"limit is from 1 to {MAX_HISTORY_LIMIT}, not {limit}")
        await self.get_agent(app_id, name)  # 404 for a name the app does not have
        dialect = self.store.dialect
        # One more than a page: whether there is an older page (a full last page has none).
        events: list[Event] = await self.store.run_read(
            lambda: tx.agent_history(app_id, name, limit + 1, before, dialect)
        )
        more, events = len(events) > limit, events[:limit]
        return events, (events[-1].seq if more and events else None)

    async def check_definition(
        self, app_id: str, agent: AgentDefinition, *, what: str = "agent definition"
    ) -> None:
        """Problems pydantic cannot see: unknown tools, MCP servers, model providers."""
        import podium.tools.integrations  # noqa: F401  (registers the integration tools)

        problems = []
        servers = {r.name for r in await self.store.run_read(lambda: tx.list_mcp_servers(app_id))}
        for name in agent.tools:
            if name.startswith(MCP_PREFIX):
                if name[len(MCP_PREFIX) :] not in servers:
                    problems.append(f"tools: no MCP server named {name[len(MCP_PREFIX) :]!r}")
            elif name != "delegate" and name not in DEFAULT and "__" not in name:
                problems.append(f"tools: no tool named {name!r}")
        if agent.model is not None:
            try:
                provider, _ = split_model_ref(agent.model)
            except ModelNotConfigured as exc:
                problems.append(f"model: {exc.message}")
            else:
                configured = {p.name for p in await self._providers(app_id)}
                if provider not in configured | set(KINDS) | set(PRESETS):
                    problems.append(
                        f"model: provider {provider!r} is not configured in this app "
                        f"(known: {sorted(configured | set(KINDS) | set(PRESETS))})"
                    )
        if problems:
            raise AgentInvalid(
                f"the {what} is not valid: " + "; ".join(problems),
                details={"problems": problems},
            )

    async def generate_agent(
        self,
        app_id: str,
        role: str,
        capabilities: list[str],
        reason: str,
        *,
        model: str | None,
        user_id: str | None,
    ) -> AgentView:
        """Ask the `creator` agent for a definition; store it when it is valid."""
        existing = {v.definition.name for v in await self.list_agents(app_id)}
        draft = draft_definition(role, capabilities, reason, existing)
        run_input: dict[str, Any] = {"agent": "creator", "message": json.dumps(draft, indent=2)}
        if model:
            run_input["model"] = model
        view = await self.sessions.create_session(
            app_id, CHAT_FLOW, run_input, metadata={"kind": "agent.generate"}, user_id=user_id
        )
        assert view.run is not None
        run = await self._wait(app_id, view.run.id)
        if run.status != "succeeded":
            raise InvalidInput(
                f"the creator agent did not answer ({run.status}): {run.error or 'no answer'}"
            )
        answer = str((run.output or {}).get("answer", ""))
        data = extract_json(answer)
        if data is None:
            raise AgentInvalid(
                "the creator's answer is not a valid agent definition: it holds no JSON "
                f"object (it began {answer[:120]!r})",
                details={"answer": answer[:2000]},
            )
        if isinstance(data, dict) and data.get("name") in BUILTIN_AGENTS:
            raise AgentInvalid(
                f"the creator's answer is not a valid agent definition: {data['name']!r} is "
                "the name of a built-in agent"
            )
        return await self.define_agent(
            app_id, data, user_id, what="creator's answer (agent definition)"
        )

    # --- chat -------------------------------------------------------------------------

    async def send(
        self,
        app_id: str,
        agent: str,
        message: str,
        *,
        session_id: str | None,
        user_id: str | None,
        model: str | None = None,
    ) -> tuple[str, str]:
        """Queue a chat message (a new chat session when none is given): (session, run)."""
        await self.runtime.definition(app_id, agent)  # a clear 404 before anything is queued
        run_input: dict[str, Any] = {"agent": agent, "message": message}
        if model:
            run_input["model"] = model
        if session_id is None:
            view = await self.sessions.create_session(
                app_id, CHAT_FLOW, run_input, metadata={"kind": "chat"}, user_id=user_id
            )
            assert view.run is not None
            return view.session.id, view.run.id
        view = await self.sessions.get_session(app_id, session_id)
        if view.flow is None or view.flow.name != CHAT_FLOW:
            raise InvalidInput(
                f"session {session_id} is a session of flow "
                f"{view.flow.name if view.flow else '?'!r}, not a chat; leave session_id out "
                "to start a chat"
            )
        run_id = await self.sessions.start_run(app_id, session_id, run_input, strategy="enqueue")
        return session_id, run_id

    async def turn(self, app_id: str, session_id: str, run_id: str) -> ChatTurn:
        """Wait for a chat run to answer (or to ask something, or for the wait to end)."""
        run = await self._wait(app_id, run_id)
        question = None
        if run.status == "interrupted":
            pending = await self.sessions.pending_questions(app_id, run_id)
            if pending:
                q = pending[0]
                question = {"id": q.id, "question": q.question, "choices": q.choices}
        answer = (run.output or {}).get("answer") if run.status == "succeeded" else None
        return ChatTurn(session_id, run_id, run.status, answer, run.error, question)

    async def _wait(self, app_id: str, run_id: str) -> RunRecord:
        return await self.sessions.wait_run(app_id, run_id, CHAT_WAIT_SECONDS)

    async def history(self, app_id: str, session_id: str, limit: int) -> list[Event]:
        events: list[Event] = await self.store.run_read(
            lambda: tx.chat_history(app_id, session_id, limit)
        )
        return events

    async def clear_history(self, app_id: str, session_id: str) -> None:
        await self.store.run_script(lambda: tx.clear_chat(app_id, session_id))

    async def last_seq(self, app_id: str) -> int:
        seq: int = await self.store.run_read(lambda: tx.last_seq(app_id))
        return seq

    # --- providers --------------------------------------------------------------------

    async def _providers(self, app_id: str) -> list[ProviderRecord]:
        records: list[ProviderRecord] = await self.store.run_read(lambda: tx.list_providers(app_id))
        return records

    async def list_providers(self, app_id: str) -> list[ProviderRecord]:
        return await self._providers(app_id)

    async def get_provider(self, app_id: str, name: str) -> ProviderRecord:
        record: ProviderRecord = await self.store.run_read(lambda: tx.get_provider(app_id, name))
        return record

    async def put_provider(
        self,
        app_id: str,
        name: str,
        kind: str,
        base_url: str | None,
        api_key: str | None,
        options: dict[str, Any],
    ) -> ProviderRecord:
        if kind not in KINDS or kind == "offline":
            raise InvalidInput(
                f"provider kind {kind!r} is not one of openai, anthropic, ollama "
                "(offline is built in and needs no configuration)"
            )
        if name == "offline":
            raise InvalidInput("`offline` is the built-in provider's name; choose another")
        EgressPolicy.from_settings(self.settings).check_url(base_url, f"provider {name!r} base_url")
        sealed = (await self.runtime.box()).seal(api_key) if api_key else None
        # A stored key stays only while the provider's kind and base URL stay: a key goes
        # only to the URL it was given for (tx.put_provider drops it otherwise).
        record: ProviderRecord = await self.store.run_script(
            lambda: tx.put_provider(
                app_id, name, kind, base_url, sealed, options, time.time(), keep_key=True
            )
        )
        return record

    async def delete_provider(self, app_id: str, name: str) -> None:
        await self.store.run_script(lambda: tx.delete_provider(app_id, name))

    # --- integrations -----------------------------------------------------------------

    async def integrations(self, app_id: str) -> list[dict[str, Any]]:
        """Each integration: configured where (app, server, nowhere), never its secrets."""
        from podium.tools.integrations import SERVICES, settings_credentials

        found = []
        for service in SERVICES:
            record = await self._integration(app_id, service)
            if record is not None:
                source = "app"
            elif settings_credentials(service, self.settings) is not None:
                source = "server"
            else:
                source = None
            found.append({"service": service, "configured": source is not None, "source": source})
        return found

    async def _integration(self, app_id: str, service: str) -> tx.IntegrationRecord | None:
        record: tx.IntegrationRecord | None = await self.store.run_read(
            lambda: tx.get_integration(app_id, service)
        )
        return record

    async def put_integration(self, app_id: str, service: str, config: dict[str, Any]) -> None:
        from podium.tools.integrations import FIELDS, SERVICES

        if service not in SERVICES:
            raise NotFound(f"no integration named {service!r}; the integrations are {SERVICES}")
        unknown = sorted(set(config) - set(FIELDS[service]))
        if unknown:
            raise InvalidInput(
                f"{service} settings have no field(s) {unknown}; its fields are "
                f"{list(FIELDS[service])}"
            )
        base_url = config.get("base_url")
        if isinstance(base_url, str):
            EgressPolicy.from_settings(self.settings).check_url(base_url, f"{service} base_url")
        sealed = (await self.runtime.box()).seal_json(config)
        await self.store.run_script(
            lambda: tx.put_integration(app_id, service, sealed, time.time())
        )

    async def delete_integration(self, app_id: str, service: str) -> None:
        await self.store.run_script(lambda: tx.delete_integration(app_id, service))

    # --- MCP servers ------------------------------------------------------------------

    async def list_mcp_servers(self, app_id: str) -> list[MCPServerRecord]:
        records: list[MCPServerRecord] = await self.store.run_read(
            lambda: tx.list_mcp_servers(app_id)
        )
        return records

    async def put_mcp_server(self, app_id: str, data: dict[str, Any]) -> MCPServerRecord:
        """Register an app's own MCP server: streamable HTTP only (stdio is the operator's)."""
        from podium.tools.mcp_config import tenant_config

        config = tenant_config(data)
        EgressPolicy.from_settings(self.settings).check_url(
            config.url, f"MCP server {config.name!r} url"
        )
        return await self._store_mcp_server(app_id, config.name, config.to_json())

    async def enable_stdio_mcp_server(
        self, app_id: str, name: str, server: str, timeout_seconds: float | None
    ) -> MCPServerRecord:
        """Let an app use the operator's stdio server `server` under `name` (platform admins
        only: the route checks)."""
        from podium.tools.mcp_config import (
            SERVER_NAME_PATTERN,
            STDIO_FILE_SETTING,
            operator_reference,
            operator_servers,
        )

        if not SERVER_NAME_PATTERN.match(name):
            raise InvalidInput(
                f"MCP server name {name!r} is not valid: use 1-32 lowercase letters, digits, "
                "'_' or '-', starting with a letter (e.g. 'files')"
            )
        offered = operator_servers(self.settings.mcp_stdio_servers_file)
        if server not in offered:
            raise NotFound(
                f"the operator offers no stdio MCP server named {server!r}; the servers of "
                f"{STDIO_FILE_SETTING} are {sorted(offered)}",
                details={"setting": STDIO_FILE_SETTING},
            )
        reference = operator_reference(name, server, timeout_seconds)
        return await self._store_mcp_server(app_id, name, reference)

    async def _store_mcp_server(
        self, app_id: str, name: str, config: dict[str, Any]
    ) -> MCPServerRecord:
        await self._disconnect_mcp(app_id, name)  # a replaced server's old session
        record: MCPServerRecord = await self.store.run_script(
            lambda: tx.put_mcp_server(app_id, name, config, time.time())
        )
        return record

    async def delete_mcp_server(self, app_id: str, name: str) -> None:
        await self.store.run_script(lambda: tx.delete_mcp_server(app_id, name))
        await self._disconnect_mcp(app_id, name)

    async def _disconnect_mcp(self, app_id: str, name: str) -> None:
        """End this process's session with the app's MCP server of that name (its stdio
        process stops); other processes' sessions end when they next fail or at shutdown."""
        from podium.tools.mcp import connections

        for record in await self.list_mcp_servers(app_id):
            if record.name == name:
                try:
                    config = self.runtime.mcp_config(app_id, record)
                except PodiumError:  # never started (not offered, or a tenant's stdio server)
                    continue
                await connections().disconnect(config)

    async def mcp_tools(self, app_id: str, name: str) -> list[dict[str, Any]]:
        servers = {r.name for r in await self.list_mcp_servers(app_id)}
        if name not in servers:
            raise NotFound(f"MCP server {name!r} is not configured in this app")
        tools = await self.runtime.mcp_tools(app_id, name)
        return [
            {"name": t.name, "description": t.description, "parameters": t.parameters}
            for t in tools
        ]

    # --- the tool-call log, tools, health ---------------------------------------------

    async def tool_calls(
        self, app_id: str, filters: tx.ToolCallFilter, *, limit: int, after: str | None
    ) -> list[ToolCallRecord]:
        records: list[ToolCallRecord] = await self.store.run_read(
            lambda: tx.list_tool_calls(app_id, filters, limit=limit, after=after)
        )
        return records

    def tools(self) -> list[dict[str, Any]]:
        import podium.tools.integrations  # noqa: F401

        return [
            {
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
                "requires_approval": t.requires_approval,
                "tags": list(t.tags),
            }
            for t in DEFAULT.all()
        ]

    async def health(self, app_id: str) -> dict[str, Any]:
        """Each provider the app can use (reachable or not), each integration
        (`ok | not_configured | error`), each MCP server."""
        from podium.tools.integrations import SERVICES, probe
        from podium.tools.mcp import connections

        configs = dict(server_providers(self.settings))
        if not (self.settings.openai_base_url or self.settings.openai_api_key):
            del configs["openai"]  # not configured for this server: nothing to reach
        if not self.settings.anthropic_api_key:
            del configs["anthropic"]
        configs.update(configured_presets(self.settings))
        configs.update(await self.runtime.provider_configs(app_id))
        providers = []
        for name, config in sorted(configs.items()):
            await load_provider_module(config.kind)
            health = await get_provider(config).health()
            providers.append(
                {
                    "name": name,
                    "kind": config.kind,
                    "source": "server"
                    if (name in server_providers(self.settings) or name in PRESETS)
                    and name not in {r.name for r in await self._providers(app_id)}
                    else "app",
                    "reachable": health.reachable,
                    "detail": health.detail,
                }
            )
        integrations = []
        for service in SERVICES:
            status, detail = await probe(service, await self.runtime.credentials(app_id, service))
            integrations.append({"service": service, "status": status, "detail": detail})
        servers = []
        for record in await self.list_mcp_servers(app_id):
            try:
                server = self.runtime.mcp_config(app_id, record)
            except PodiumError as exc:
                servers.append({"name": record.name, "reachable": False, "detail": exc.message})
                continue
            ok, detail = await connections().health(server)
            servers.append({"name": record.name, "reachable": ok, "detail": detail})
        app_model = await self.store.run_read(lambda: tx.app_default_model(app_id))
        return {
            "default_model": app_model or self.settings.default_model,
            "providers": providers,
            "integrations": integrations,
            "mcp_servers": servers,
        }


def _view(record: AgentRecord) -> AgentView:
    if is_builtin_marker(record.definition):  # a built-in, turned off or on by the app
        return AgentView(stored_definition(record.definition), "builtin", None, "idle")
    return AgentView(
        parse_definition(record.definition), "app", record.version, "idle", [], record.created_at
    )


def slug(text: str) -> str:
    value = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not value or not value[0].isalpha():
        value = f"agent_{value}".strip("_")
    return value[:48]


def draft_definition(
    role: str, capabilities: list[str], reason: str, taken: set[str]
) -> dict[str, Any]:
    """The definition the creator starts from (and what `offline/echo` hands back as is)."""
    name = base = slug(role)
    number = 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    skills = ", ".join(capabilities) if capabilities else "its role"
    return {
        "name": name,
        "description": f"{role}: {reason}".strip()[:2000],
        "instructions": (
            f"You are a {role}. You are good at {skills}. You exist because: {reason}. "
            "Be accurate and concise, and say when you are not sure."
        ),
        "capabilities": {
            "tags": [slug(c) for c in capabilities][:32],
            "description": f"{role} ({skills})"[:2000],
        },
    }


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any:
    """The JSON object in a model's answer (bare, or in a code fence), or None."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        candidate = candidate.strip()
        start, end = candidate.find("{"), candidate.rfind("}")
        if start == -1 or end <= start:
            continue
        try:
            return jsonvalue.loads(candidate[start : end + 1], "the JSON in the answer")
        except JSONValueInvalid:
            continue
    return None
