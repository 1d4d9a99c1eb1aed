"""Token usage and caps (tables `llm_usage` and `budgets`; docs/budgets.md).

`llm_usage` holds a row per LLM call a provider answered: what an agent spent. A call
replayed from its recorded result adds no row; a call that ran again after a crash adds
another, as it spent the tokens again. `budgets` holds the caps set for an app, a session
or a run (a run's cap only once a decision raised it: until then its agent's
`limits.max_tokens` is the cap).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from podium.storage.script import Script, all_rows, execute, one

Scope = Literal["app", "session", "run"]
GROUPS = {"agent": "agent", "model": "model"}


@dataclass(slots=True, frozen=True)
class UsageRecord:
    id: str
    app_id: str
    session_id: str
    run_id: str
    node_id: str
    call_key: str
    agent: str
    model: str
    input_tokens: int
    output_tokens: int
    created_at: float


def record_usage(record: UsageRecord) -> Script:
    yield execute(
        "INSERT INTO llm_usage (id, app_id, session_id, run_id, node_id, call_key, agent, "
        "model, input_tokens, output_tokens, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        record.id,
        record.app_id,
        record.session_id,
        record.run_id,
        record.node_id,
        record.call_key,
        record.agent,
        record.model,
        record.input_tokens,
        record.output_tokens,
        record.created_at,
    )


def usage_so_far(app_id: str, session_id: str, run_id: str) -> Script:
    """Tokens used so far by the run, the session and the app: {scope: tokens}."""
    row = yield one(
        "SELECT "
        "COALESCE(SUM(CASE WHEN run_id = ? THEN input_tokens + output_tokens END), 0) AS run, "
        "COALESCE(SUM(CASE WHEN session_id = ? THEN input_tokens + output_tokens END), 0) "
        "AS session, COALESCE(SUM(input_tokens + output_tokens), 0) AS app "
        "FROM llm_usage WHERE app_id = ?",
        run_id,
        session_id,
        app_id,
    )
    return {"run": int(row["run"]), "session": int(row["session"]), "app": int(row["app"])}


def caps(app_id: str, session_id: str, run_id: str) -> Script:
    """The caps set for the app, the session and the run: {scope: max_tokens}."""
    rows = yield all_rows(
        "SELECT scope, max_tokens FROM budgets WHERE app_id = ? AND "
        "((scope = 'app' AND subject_id = ?) OR (scope = 'session' AND subject_id = ?) OR "
        "(scope = 'run' AND subject_id = ?))",
        app_id,
        app_id,
        session_id,
        run_id,
    )
    return {row["scope"]: int(row["max_tokens"]) for row in rows}


def set_cap(
    app_id: str, scope: Scope, subject_id: str, max_tokens: int | None, now: float
) -> Script:
    """Set (or, with None, remove) the cap of the app, a session or a run."""
    if max_tokens is None:
        yield execute(
            "DELETE FROM budgets WHERE app_id = ? AND scope = ? AND subject_id = ?",
            app_id,
            scope,
            subject_id,
        )
        return
    yield execute(
        "INSERT INTO budgets (app_id, scope, subject_id, max_tokens, updated_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (app_id, scope, subject_id) "
        "DO UPDATE SET max_tokens = excluded.max_tokens, updated_at = excluded.updated_at",
        app_id,
        scope,
        subject_id,
        max_tokens,
        now,
    )


def get_cap(app_id: str, scope: Scope, subject_id: str) -> Script:
    row = yield one(
        "SELECT max_tokens FROM budgets WHERE app_id = ? AND scope = ? AND subject_id = ?",
        app_id,
        scope,
        subject_id,
    )
    return None if row is None else int(row["max_tokens"])


def usage_by(
    app_id: str, group_by: str, since: float | None, prices: dict[str, tuple[float, float]]
) -> Script:
    """The app's usage per agent or per model (`group_by`), by name; `estimated_cost` from
    `prices` (model → per million input and output tokens), None when a model has none."""
    column = GROUPS[group_by]  # a fixed column name, never the caller's text
    rows = yield all_rows(
        f"SELECT {column} AS name, model, COUNT(*) AS calls, "
        "COALESCE(SUM(input_tokens), 0) AS input_tokens, "
        "COALESCE(SUM(output_tokens), 0) AS output_tokens FROM llm_usage "
        f"WHERE app_id = ? AND created_at >= ? GROUP BY {column}, model ORDER BY {column}, model",
        app_id,
        since or 0.0,
    )
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        group = groups.setdefault(
            row["name"],
            {
                group_by: row["name"],
                "calls": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "total_tokens": 0,
                "estimated_cost": 0.0,
            },
        )
        tokens_in, tokens_out = int(row["input_tokens"]), int(row["output_tokens"])
        group["calls"] += int(row["calls"])
        group["input_tokens"] += tokens_in
        group["output_tokens"] += tokens_out
        group["total_tokens"] += tokens_in + tokens_out
        price = prices.get(row["model"])
        if price is None or group["estimated_cost"] is None:
            group["estimated_cost"] = None
        else:
            group["estimated_cost"] += (tokens_in * price[0] + tokens_out * price[1]) / 1e6
    return list(groups.values())


def run_scope(run_id: str, app_id: str) -> Script:
    """The run's session (None for a run not in the app)."""
    row: Any = yield one("SELECT session_id FROM runs WHERE id = ? AND app_id = ?", run_id, app_id)
    return None if row is None else row["session_id"]


DECISION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "action": {"enum": ["raise", "resume", "cancel"]},
        "max_tokens": {"type": "integer", "minimum": 1},
    },
    "required": ["action"],
    "additionalProperties": False,
}


def decision_problem(answer: Any) -> str | None:
    """What is wrong with a decision on a reached cap (None when it is one): `{"action":
    "raise", "max_tokens": N}`, `{"action": "resume"}` (the caps as they are now, e.g. raised
    through the budget route) or `{"action": "cancel"}`. (The server cap on N is the
    caller's to check.)"""
    example = (
        '{"action": "raise", "max_tokens": 5000}, {"action": "resume"} or {"action": "cancel"}'
    )
    if not isinstance(answer, dict) or answer.get("action") not in ("raise", "resume", "cancel"):
        return f"a budget decision is an object such as {example}"
    extra = sorted(set(answer) - {"action", "max_tokens"})
    if extra:
        return f"a budget decision has the keys action and max_tokens, not {', '.join(extra)}"
    tokens = answer.get("max_tokens")
    if answer["action"] != "raise":
        if tokens is not None:
            return f"max_tokens goes with the action 'raise', not {answer['action']!r}"
        return None
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
        return f"the action 'raise' needs max_tokens, a whole number of at least 1 (got {tokens!r})"
    return None


def used_tokens(app_id: str, scope: Scope, subject_id: str) -> Script:
    """The tokens the app, a session or a run used so far."""
    column = {"app": "app_id", "session": "session_id", "run": "run_id"}[scope]
    row = yield one(
        "SELECT COALESCE(SUM(input_tokens + output_tokens), 0) AS used FROM llm_usage "
        f"WHERE app_id = ? AND {column} = ?",
        app_id,
        subject_id,
    )
    return int(row["used"])
