"""`node.completed` rows that point at their step instead of repeating it.

A `node.completed` event carries the node id, the step number, the iteration (or `cached`)
and the node's output: everything but the step number is in the step row written in the same
transaction (`steps`, keyed by run and number). So the log stores such an event as a
reference, `{"step": n}` with no session id (the run row has it), and every read puts the
event back together from the step and run rows (`hydrate`): clients, the event log API,
SSE, WebSocket and pack handlers see the same event as before. The executor's own `Event`
objects, published live after the commit, are never changed.

An event is stored as a reference only when its step gives back exactly its data
(`reference`); anything else, such as an output left out over PODIUM_MAX_EVENT_BYTES (a
marker in the event, the whole output in the step), is stored whole, as every event written
before this existed was. A stored event with a `node_id` is whole; `{"step": n}` without one
is a reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from podium.events import names
from podium.events.envelope import Event
from podium.storage.records import StepRecord
from podium.storage.script import Row, Script, all_rows, loads


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


def reference(event: Event, steps: dict[int, StepRecord]) -> dict[str, Any] | None:
    """The data to store for `event` when a step of `steps` (by number) reproduces it whole;
    None when it must be stored as it is."""
    if event.type != names.NODE_COMPLETED or event.run_id is None:
        return None
    number = event.data.get("step")
    step = steps.get(number) if isinstance(number, int) else None
    if step is None or step.run_id != event.run_id:
        return None
    if step.status not in ("succeeded", "cached"):
        return None
    rebuilt = completed_data(step.node_id, step.number, step.iteration, step.status, step.output)
    if rebuilt != event.data:
        return None
    return {"step": step.number}


def is_reference(event: Event) -> bool:
    return (
        event.type == names.NODE_COMPLETED
        and event.run_id is not None
        and "node_id" not in event.data
        and isinstance(event.data.get("step"), int)
    )


def hydrate(events: Iterable[Event]) -> Script:
    """Put every stored reference among `events` back together (in place); returns None."""
    wanted: dict[str, dict[int, list[Event]]] = {}
    for event in events:
        if is_reference(event):
            assert event.run_id is not None
            wanted.setdefault(event.run_id, {}).setdefault(event.data["step"], []).append(event)
    for run_id, by_number in wanted.items():
        numbers = sorted(by_number)
        marks = ", ".join("?" for _ in numbers)
        rows = yield all_rows(
            "SELECT s.n, s.node_id, s.iteration, s.status, s.output, r.session_id "
            "FROM steps s JOIN runs r ON r.id = s.run_id "
            f"WHERE s.run_id = ? AND s.n IN ({marks})",
            run_id,
            *numbers,
        )
        for row in rows:
            for event in by_number.get(row["n"], ()):
                _fill(event, row)
    return None


def _fill(event: Event, row: Row) -> None:
    event.data = completed_data(
        row["node_id"], row["n"], row["iteration"], row["status"], loads(row["output"])
    )
    if event.session_id is None:
        event.session_id = row["session_id"]
