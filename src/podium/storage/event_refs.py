"""`node.completed` rows that point at their step instead of repeating it.

A `node.completed` event carries the node id, the step number, the iteration (or `cached`)
and the node's output: all of it is in the step row written in the same transaction
(`steps`, keyed by run and number). So the log stores such an event as a reference: the
step's number in `events.step`, `{}` as data and no session id (the run row has it), and
every read of the log (`EVENTS_READ`) joins the step and run rows and puts the event back
together (`hydrate`): clients, the event log API, SSE, WebSocket and pack handlers see the
same event as before. The executor's own `Event` objects, published live after the commit,
are never changed.

An event is stored as a reference only when its step gives back exactly its data
(`reference`); anything else, such as an output left out over PODIUM_MAX_EVENT_BYTES (a
marker in the event, the whole output in the step), is stored whole, as every event written
before references existed (migration 0011) was: those have no `step` and read as they are.
"""

from __future__ import annotations

from typing import Any

from podium.events import names
from podium.events.envelope import Event
from podium.storage.records import StepRecord
from podium.storage.script import Json, Row, loads

# The data of a reference row (the column is NOT NULL).
REFERENCE = Json({})

# Reads events with what a reference needs: `WHERE`, `ORDER BY` and `LIMIT` follow; the
# event's columns are `e.`. A whole row has no step, so it joins nothing.
EVENTS_READ = (
    "SELECT e.seq, e.type, e.session_id, e.run_id, e.ts, e.data, e.step, "
    "s.node_id AS ref_node_id, s.iteration AS ref_iteration, s.status AS ref_status, "
    "s.output AS ref_output, r.session_id AS ref_session_id "
    "FROM events e LEFT JOIN steps s ON s.run_id = e.run_id AND s.n = e.step "
    "LEFT JOIN runs r ON r.id = s.run_id"
)


def completed_data(
    node_id: str, number: int, iteration: int, status: str, output: dict[str, Any] | None
) -> dict[str, Any]:
    """A step's `node.completed` data, in the executor's key order."""
    data: dict[str, Any] = {"node_id": node_id, "step": number}
    if status == "cached":
        data["cached"] = True
    elif iteration:
        data["iteration"] = iteration
    data["output"] = output or {}
    return data


def reference(event: Event, steps: dict[int, StepRecord]) -> int | None:
    """The number of the step of `steps` that reproduces `event` whole (store a reference
    to it); None when the event must be stored as it is."""
    if event.type != names.NODE_COMPLETED or event.run_id is None:
        return None
    data = event.data
    number = data.get("step")
    step = steps.get(number) if type(number) is int else None
    if step is None or step.run_id != event.run_id:
        return None
    # The same test as `completed_data(...) == event.data`, without building the dict.
    if step.status == "succeeded":
        if step.iteration:
            if len(data) != 4 or data.get("iteration") != step.iteration:
                return None
        elif len(data) != 3:
            return None
    elif step.status == "cached":
        if len(data) != 4 or data.get("cached") is not True:
            return None
    else:
        return None
    output = data.get("output")
    expected = step.output or {}
    if data.get("node_id") != step.node_id or (output is not expected and output != expected):
        return None
    return step.number


def hydrate(event: Event, row: Row) -> None:
    """Put a reference read by `EVENTS_READ` back together (in place)."""
    event.data = completed_data(
        row["ref_node_id"],
        row["step"],
        row["ref_iteration"],
        row["ref_status"],
        loads(row["ref_output"]),
    )
    if event.session_id is None:
        event.session_id = row["ref_session_id"]
