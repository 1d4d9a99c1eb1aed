"""Transactions of workflow graphs (a pack's gates and journeys, one row per pack and app)
and the read that gates need: which flows a user has completed in an app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podium.errors import NotFound
from podium.storage.script import Json, Row, Script, all_rows, execute, loads, one


@dataclass(slots=True)
class WorkflowGraphRecord:
    app_id: str
    name: str
    graph: dict[str, Any]  # the validated graph as JSON (see podium.sessions.gates)
    updated_at: float


def _graph(row: Row) -> WorkflowGraphRecord:
    return WorkflowGraphRecord(row["app_id"], row["name"], loads(row["graph"]), row["updated_at"])


def put_graph(app_id: str, name: str, graph: dict[str, Any], now: float) -> Script:
    """Create or replace the app's graph of that name (one statement: concurrent puts of a new
    name do not collide)."""
    yield execute(
        "INSERT INTO workflow_graphs (app_id, name, graph, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (app_id, name) DO UPDATE SET graph = excluded.graph, "
        "updated_at = excluded.updated_at",
        app_id,
        name,
        Json(graph),
        now,
    )
    return WorkflowGraphRecord(app_id, name, graph, now)


def get_graph(app_id: str, name: str) -> Script:
    row = yield one("SELECT * FROM workflow_graphs WHERE app_id = ? AND name = ?", app_id, name)
    if row is None:
        raise NotFound(
            f"no workflow graph named {name!r} in this app; register it with "
            f"PUT /workflow-graphs/{name}"
        )
    return _graph(row)


def list_graphs(app_id: str) -> Script:
    """The app's graphs, by name."""
    rows = yield all_rows("SELECT * FROM workflow_graphs WHERE app_id = ? ORDER BY name", app_id)
    return [_graph(row) for row in rows]


def delete_graph(app_id: str, name: str) -> Script:
    deleted = yield execute(
        "DELETE FROM workflow_graphs WHERE app_id = ? AND name = ?", app_id, name
    )
    if not deleted:
        raise NotFound(f"no workflow graph named {name!r} in this app")
    return None


def completed_flows(app_id: str, user_id: str, flow_names: list[str]) -> Script:
    """Which of `flow_names` the user has a `completed` session of in the app."""
    if not flow_names:
        return set()
    marks = ", ".join("?" for _ in flow_names)
    rows = yield all_rows(
        "SELECT DISTINCT f.name FROM sessions s JOIN flows f ON f.id = s.flow_id "
        f"WHERE s.app_id = ? AND s.user_id = ? AND s.status = 'completed' AND f.name IN ({marks})",
        app_id,
        user_id,
        *flow_names,
    )
    return {row["name"] for row in rows}
