"""Events the engine writes stay within PODIUM_MAX_EVENT_BYTES.

Node code's own events are refused over the cap (`Context.emit`); the engine's events carry
what a tenant's flow chose (a run's output, an error text, a question), and the artifact
events an artifact's state or patch, so a value that would make one too large is left out
and a marker says where it is read whole:

    {"output_omitted": true, "output_bytes": 1234567, "read": "GET /api/v1/apps/{app}/runs/{run}"}

(docs/engine.md, "Events stay within the cap").
"""

from __future__ import annotations

from typing import Any

from podium.storage.script import dumps

# The largest value left out first; the run's row (or its steps, or its pending questions)
# keeps every one of them whole.
OMITTABLE = ("output", "outputs", "error", "question", "choices", "retry")


def artifact_url(app_id: str, artifact_id: str) -> str:
    """Where an artifact is read whole: its state and version."""
    return f"GET /api/v1/apps/{app_id}/artifacts/{artifact_id}"


def run_url(app_id: str, run_id: str) -> str:
    """Where a run is read whole: its output, error, steps and pending questions."""
    return f"GET /api/v1/apps/{app_id}/runs/{run_id}"


def step_url(app_id: str, run_id: str, number: int) -> str:
    """Where one step is read whole: its node's output and error."""
    return f"GET /api/v1/apps/{app_id}/runs/{run_id}/steps/{number}"


def data_bytes(data: dict[str, Any]) -> int:
    """The size of an event's data as the log stores it."""
    return len(dumps(data).encode())


def within_cap(
    data: dict[str, Any], cap: int | None, read: str, omittable: tuple[str, ...] = OMITTABLE
) -> dict[str, Any]:
    """`data`, or a copy in which the largest of its `omittable` values are replaced by
    markers (`<key>_omitted`, `<key>_bytes`, `read`) until it is at most `cap` bytes."""
    if cap is None or data.keys().isdisjoint(omittable):
        return data  # nothing could be left out (most engine events: a node id, a status)
    text = dumps(data)
    # A character is at most 4 bytes of UTF-8: most data fits without encoding it.
    if 4 * len(text) <= cap or len(text.encode()) <= cap:
        return data
    bounded = dict(data)
    sizes = {key: data_bytes({key: bounded[key]}) for key in omittable if key in bounded}
    for key in sorted(sizes, key=sizes.__getitem__, reverse=True):
        value = bounded.pop(key)
        bounded |= {f"{key}_omitted": True, f"{key}_bytes": len(dumps(value).encode())}
        bounded["read"] = read
        if data_bytes(bounded) <= cap:
            break
    return bounded
