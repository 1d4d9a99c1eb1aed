"""Transactions of agents and their tools: definitions, providers, integrations, MCP servers,
the tool-call log and which agents are busy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podium.errors import Conflict, NotFound
from podium.events import names
from podium.ids import new_id
from podium.storage.script import Json, Row, Script, all_rows, execute, loads, one
from podium.storage.transactions import event_record


@dataclass(slots=True)
class AgentRecord:
    id: str
    app_id: str
    name: str
    version: int
    definition: dict[str, Any]
    created_by: str | None
    created_at: float


@dataclass(slots=True)
class ProviderRecord:
    id: str
    app_id: str
    name: str
    kind: str
    base_url: str | None
    api_key_encrypted: str | None
    options: dict[str, Any]
    created_at: float
    updated_at: float


@dataclass(slots=True)
class IntegrationRecord:
    app_id: str
    service: str
    config_encrypted: str
    created_at: float
    updated_at: float


@dataclass(slots=True)
class MCPServerRecord:
    id: str
    app_id: str
    name: str
    config: dict[str, Any]
    created_at: float


@dataclass(slots=True)
class ToolCallRecord:
    id: str
    app_id: str
    session_id: str | None
    run_id: str | None
    node_id: str | None
    iteration: int | None
    call_key: str | None
    agent: str | None
    tool: str
    arguments: Any
    result: Any
    error: str | None
    status: str
    duration_ms: float
    created_at: float


def _agent(row: Row) -> AgentRecord:
    return AgentRecord(
        row["id"],
        row["app_id"],
        row["name"],
        row["version"],
        loads(row["definition"]),
        row["created_by"],
        row["created_at"],
    )


def _provider(row: Row) -> ProviderRecord:
    return ProviderRecord(
        row["id"],
        row["app_id"],
        row["name"],
        row["kind"],
        row["base_url"],
        row["api_key_encrypted"],
        loads(row["options"]) or {},
        row["created_at"],
        row["updated_at"],
    )


def _tool_call(row: Row) -> ToolCallRecord:
    return ToolCallRecord(
        row["id"],
        row["app_id"],
        row["session_id"],
        row["run_id"],
        row["node_id"],
        row["iteration"],
        row["call_key"],
        row["agent"],
        row["tool"],
        loads(row["arguments"]),
        loads(row["result"]),
        row["error"],
        row["status"],
        row["duration_ms"],
        row["created_at"],
    )


# --- agents ---------------------------------------------------------------------------


def save_agent(
    app_id: str, name: str, definition: dict[str, Any], created_by: str | None, now: float
) -> Script:
    """Store a definition as the agent's next version; an unchanged one keeps its version."""
    latest = yield one(
        "SELECT * FROM agents WHERE app_id = ? AND name = ? ORDER BY version DESC LIMIT 1",
        app_id,
        name,
    )
    if latest is not None:
        record = _agent(latest)
        if record.definition == definition:
            return record
    version = 1 if latest is None else latest["version"] + 1
    agent_id = new_id("agt")
    yield execute(
        "INSERT INTO agents (id, app_id, name, version, definition, created_by, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        agent_id,
        app_id,
        name,
        version,
        Json(definition),
        created_by,
        now,
    )
    return AgentRecord(agent_id, app_id, name, version, definition, created_by, now)


def get_agent(app_id: str, name: str, version: int | None = None) -> Script:
    """The agent's latest version (or the one asked for), or None."""
    if version is None:
        row = yield one(
            "SELECT * FROM agents WHERE app_id = ? AND name = ? ORDER BY version DESC LIMIT 1",
            app_id,
            name,
        )
    else:
        row = yield one(
            "SELECT * FROM agents WHERE app_id = ? AND name = ? AND version = ?",
            app_id,
            name,
            version,
        )
    return None if row is None else _agent(row)


def list_agents(app_id: str) -> Script:
    """Every agent's latest version, by name."""
    rows = yield all_rows(
        "SELECT a.* FROM agents a WHERE a.app_id = ? AND a.version = "
        "(SELECT MAX(b.version) FROM agents b WHERE b.app_id = a.app_id AND b.name = a.name) "
        "ORDER BY a.name",
        app_id,
    )
    return [_agent(row) for row in rows]


def delete_agent(app_id: str, name: str) -> Script:
    """Remove every version of the app's agent; NotFound when the app has none."""
    changed = yield execute("DELETE FROM agents WHERE app_id = ? AND name = ?", app_id, name)
    if not changed:
        raise NotFound(f"no agent named {name!r} is defined in this app")
    return None


def agent_history(
    app_id: str, agent: str, limit: int, before: int | None, dialect: str = "sqlite"
) -> Script:
    """The agent's messages, newest first: its transcript (`message.created` naming it) and
    the agent messages it sent or received (`agent.message`); `before` is a seq."""
    if dialect == "postgresql":
        named, sender, recipient = "data->>'agent'", "data->>'from'", "data->>'to'"
    else:
        named = "json_extract(data, '$.agent')"
        sender, recipient = "json_extract(data, '$.from')", "json_extract(data, '$.to')"
    sql = (
        "SELECT * FROM events WHERE app_num = (SELECT num FROM apps WHERE id = ?) "
        f"AND ((type = ? AND {named} = ?) OR (type = ? AND ({sender} = ? OR {recipient} = ?)))"
    )
    args: list[Any] = [app_id, names.MESSAGE_CREATED, agent, names.AGENT_MESSAGE, agent, agent]
    if before is not None:
        sql += " AND seq < ?"
        args.append(before)
    rows = yield all_rows(sql + " ORDER BY seq DESC LIMIT ?", *args, limit)
    return [event_record(row, app_id) for row in rows]


def session_artifact_ids(app_id: str, session_id: str, limit: int) -> Script:
    """The ids of the app's artifacts attached to the session, oldest first, at most `limit`."""
    rows = yield all_rows(
        "SELECT a.id FROM artifacts a JOIN session_artifacts sa ON sa.artifact_id = a.id "
        "WHERE a.app_id = ? AND sa.session_id = ? ORDER BY a.created_at, a.id LIMIT ?",
        app_id,
        session_id,
        limit,
    )
    return [row["id"] for row in rows]


# --- providers ------------------------------------------------------------------------


def put_provider(
    app_id: str,
    name: str,
    kind: str,
    base_url: str | None,
    api_key_encrypted: str | None,
    options: dict[str, Any],
    now: float,
    *,
    keep_key: bool,
) -> Script:
    """Create or replace a provider configuration. `keep_key`: an update without a key keeps
    the stored one, as long as the kind and base URL stay: a key never goes to a URL it was
    not given for (a changed URL or kind without a new key drops it)."""
    row = yield one("SELECT * FROM providers WHERE app_id = ? AND name = ?", app_id, name)
    if row is None:
        provider_id = new_id("prv")
        yield execute(
            "INSERT INTO providers (id, app_id, name, kind, base_url, api_key_encrypted, "
            "options, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            provider_id,
            app_id,
            name,
            kind,
            base_url,
            api_key_encrypted,
            Json(options),
            now,
            now,
        )
    else:
        same_target = row["kind"] == kind and row["base_url"] == base_url
        if keep_key and api_key_encrypted is None and same_target:
            api_key_encrypted = row["api_key_encrypted"]
        yield execute(
            "UPDATE providers SET kind = ?, base_url = ?, api_key_encrypted = ?, options = ?, "
            "updated_at = ? WHERE id = ?",
            kind,
            base_url,
            api_key_encrypted,
            Json(options),
            now,
            row["id"],
        )
    row = yield one("SELECT * FROM providers WHERE app_id = ? AND name = ?", app_id, name)
    return _provider(row)


def list_providers(app_id: str) -> Script:
    rows = yield all_rows("SELECT * FROM providers WHERE app_id = ? ORDER BY name", app_id)
    return [_provider(row) for row in rows]


def get_provider(app_id: str, name: str) -> Script:
    row = yield one("SELECT * FROM providers WHERE app_id = ? AND name = ?", app_id, name)
    if row is None:
        raise NotFound(f"provider {name!r} is not configured in this app")
    return _provider(row)


def delete_provider(app_id: str, name: str) -> Script:
    changed = yield execute("DELETE FROM providers WHERE app_id = ? AND name = ?", app_id, name)
    if not changed:
        raise NotFound(f"provider {name!r} is not configured in this app")
    return None


def app_default_model(app_id: str) -> Script:
    row = yield one("SELECT default_model FROM apps WHERE id = ?", app_id)
    return None if row is None else row["default_model"]


def set_app_default_model(app_id: str, model: str | None) -> Script:
    changed = yield execute("UPDATE apps SET default_model = ? WHERE id = ?", model, app_id)
    if not changed:
        raise NotFound(f"app {app_id!r} does not exist")
    return None


# --- integrations ---------------------------------------------------------------------


def put_integration(app_id: str, service: str, config_encrypted: str, now: float) -> Script:
    yield execute(
        "INSERT INTO integrations (app_id, service, config_encrypted, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (app_id, service) DO UPDATE SET "
        "config_encrypted = excluded.config_encrypted, updated_at = excluded.updated_at",
        app_id,
        service,
        config_encrypted,
        now,
        now,
    )
    return None


def get_integration(app_id: str, service: str) -> Script:
    row = yield one("SELECT * FROM integrations WHERE app_id = ? AND service = ?", app_id, service)
    if row is None:
        return None
    return IntegrationRecord(
        row["app_id"],
        row["service"],
        row["config_encrypted"],
        row["created_at"],
        row["updated_at"],
    )


def delete_integration(app_id: str, service: str) -> Script:
    changed = yield execute(
        "DELETE FROM integrations WHERE app_id = ? AND service = ?", app_id, service
    )
    if not changed:
        raise NotFound(f"integration {service!r} is not configured in this app")
    return None


# --- MCP servers ----------------------------------------------------------------------


def put_mcp_server(app_id: str, name: str, config: dict[str, Any], now: float) -> Script:
    if (yield one("SELECT id FROM apps WHERE id = ?", app_id)) is None:
        raise NotFound(f"app {app_id!r} does not exist")
    row = yield one("SELECT id FROM mcp_servers WHERE app_id = ? AND name = ?", app_id, name)
    if row is None:
        server_id = new_id("mcp")
        yield execute(
            "INSERT INTO mcp_servers (id, app_id, name, config, created_at) VALUES (?, ?, ?, ?, ?)",
            server_id,
            app_id,
            name,
            Json(config),
            now,
        )
    else:
        server_id = row["id"]
        yield execute("UPDATE mcp_servers SET config = ? WHERE id = ?", Json(config), server_id)
    return MCPServerRecord(server_id, app_id, name, config, now)


def list_mcp_servers(app_id: str) -> Script:
    rows = yield all_rows("SELECT * FROM mcp_servers WHERE app_id = ? ORDER BY name", app_id)
    return [
        MCPServerRecord(r["id"], r["app_id"], r["name"], loads(r["config"]), r["created_at"])
        for r in rows
    ]


def delete_mcp_server(app_id: str, name: str) -> Script:
    changed = yield execute("DELETE FROM mcp_servers WHERE app_id = ? AND name = ?", app_id, name)
    if not changed:
        raise NotFound(f"MCP server {name!r} is not configured in this app")
    return None


# --- the tool-call log ----------------------------------------------------------------


def log_tool_call(record: ToolCallRecord) -> Script:
    """Write one execution; a recorded call logged before (its step ran again) is kept."""
    yield execute(
        "INSERT INTO tool_calls (id, app_id, session_id, run_id, node_id, iteration, call_key, "
        "agent, tool, arguments, result, error, status, duration_ms, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        record.id,
        record.app_id,
        record.session_id,
        record.run_id,
        record.node_id,
        record.iteration,
        record.call_key,
        record.agent,
        record.tool,
        Json(record.arguments),
        Json(record.result),
        record.error,
        record.status,
        record.duration_ms,
        record.created_at,
    )
    return None


@dataclass(slots=True, frozen=True)
class ToolCallFilter:
    """Which tool calls to list: each field given narrows the list."""

    run_id: str | None = None
    agent: str | None = None
    tool: str | None = None
    status: str | None = None


def list_tool_calls(
    app_id: str, filters: ToolCallFilter, *, limit: int = 100, after: str | None = None
) -> Script:
    """The app's tool calls, oldest first, filtered; `after` is the last id of a page."""
    sql = "SELECT * FROM tool_calls WHERE app_id = ?"
    args: list[Any] = [app_id]
    for column in ("run_id", "agent", "tool", "status"):
        value = getattr(filters, column)
        if value is not None:
            sql += f" AND {column} = ?"
            args.append(value)
    if after is not None:
        sql += " AND id > ?"
        args.append(after)
    sql += " ORDER BY id LIMIT ?"
    args.append(limit)
    rows = yield all_rows(sql, *args)
    return [_tool_call(row) for row in rows]


# --- agent activity -------------------------------------------------------------------


def agent_busy(app_id: str, agent: str, run_id: str, scope: str, now: float) -> Script:
    yield execute(
        "INSERT INTO agent_activity (app_id, agent, run_id, scope, started_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        app_id,
        agent,
        run_id,
        scope,
        now,
    )
    return None


def agent_idle(run_id: str, scope: str) -> Script:
    yield execute("DELETE FROM agent_activity WHERE run_id = ? AND scope = ?", run_id, scope)
    return None


def agent_activity(app_id: str) -> Script:
    """{agent: [run ids]} of the agents at work in runs that are still going (a run that
    crashed or ended leaves no busy agent behind)."""
    rows = yield all_rows(
        "SELECT DISTINCT a.agent, a.run_id FROM agent_activity a JOIN runs r ON r.id = a.run_id "
        "WHERE a.app_id = ? AND r.status IN ('queued', 'running', 'pausing') "
        "ORDER BY a.agent, a.run_id",
        app_id,
    )
    activity: dict[str, list[str]] = {}
    for row in rows:
        activity.setdefault(row["agent"], []).append(row["run_id"])
    return activity


# --- chat history ---------------------------------------------------------------------


def clear_chat(app_id: str, session_id: str) -> Script:
    """Forget a chat's conversation: the agent's view (`state.messages`) is emptied and the
    transcript read from now on starts after the app's current seq. Refused mid-run."""
    session = yield one(
        "SELECT s.state, s.metadata, a.last_seq FROM sessions s JOIN apps a ON a.id = s.app_id "
        "WHERE s.id = ? AND s.app_id = ?",
        session_id,
        app_id,
    )
    if session is None:
        raise NotFound(f"session {session_id!r} does not exist")
    active = yield one(
        "SELECT id, status FROM runs WHERE session_id = ? "
        "AND status IN ('queued', 'running', 'pausing') LIMIT 1",
        session_id,
    )
    if active is not None:
        raise Conflict(
            f"session {session_id} has a run {active['id']} that is {active['status']}; "
            "clear the history when it has answered"
        )
    state = loads(session["state"]) or {}
    state["messages"] = []
    metadata = loads(session["metadata"]) or {}
    metadata["history_cleared_seq"] = session["last_seq"]
    yield execute(
        "UPDATE sessions SET state = ?, metadata = ? WHERE id = ?",
        Json(state),
        Json(metadata),
        session_id,
    )
    return None


def chat_history(app_id: str, session_id: str, limit: int) -> Script:
    """The last `limit` transcript messages since the history was last cleared, oldest first."""
    session = yield one(
        "SELECT metadata FROM sessions WHERE id = ? AND app_id = ?", session_id, app_id
    )
    if session is None:
        raise NotFound(f"session {session_id!r} does not exist")
    after = int((loads(session["metadata"]) or {}).get("history_cleared_seq", 0))
    rows = yield all_rows(
        "SELECT * FROM events WHERE app_num = (SELECT num FROM apps WHERE id = ?) "
        "AND session_id = ? AND type = ? AND seq > ? ORDER BY seq DESC LIMIT ?",
        app_id,
        session_id,
        names.MESSAGE_CREATED,
        after,
        limit,
    )
    return [event_record(row, app_id) for row in reversed(rows)]


def last_seq(app_id: str) -> Script:
    row = yield one("SELECT last_seq FROM apps WHERE id = ?", app_id)
    return 0 if row is None else int(row["last_seq"])
