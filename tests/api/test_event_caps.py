"""Every event the engine writes stays within PODIUM_MAX_EVENT_BYTES: a run's large output,
a long error text or question is left out of its event with a marker that says where it is
read whole (`GET /api/v1/apps/{app}/runs/{id}`), and that route has it whole; so is an
artifact's large state or patch (`GET /api/v1/apps/{app}/artifacts/{id}`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.api.conftest import Actor, api_settings

from podium.config import Settings

EVENT_CAP = 4_096
CHARS = 20_000
WAIT = {"timeout": 20}


@pytest.fixture
def api_config(database_url: str) -> Settings:
    return api_settings(
        database_url, api_python_modules=["support.json_nodes"], max_event_bytes=EVENT_CAP
    )


def start(admin: Actor, node: str, *, output: bool = False) -> tuple[str, str, dict[str, Any]]:
    """Register a flow of the `support.json_nodes` function `node` and start it; (the app's
    base path, the run's id, the run as it ended or waits)."""
    app_id = admin.create_app(f"caps-{node}")
    base = f"/api/v1/apps/{app_id}"
    config = {"function": f"support.json_nodes:{node}", "chars": CHARS}
    nodes: list[dict[str, Any]] = [{"id": "n", "type": "python", "config": config}]
    flow: dict[str, Any] = {"name": node, "nodes": nodes}
    if output:
        flow["nodes"].append({"id": "out", "type": "output", "config": {"keys": ["text"]}})
        flow["edges"] = [{"source": "n", "target": "out"}]
    assert admin.post(f"{base}/flows", flow).status_code == 201
    session = admin.post(f"{base}/sessions", {"flow": node, "input": {}}).json()
    run = admin.get(f"{base}/runs/{session['run_id']}/wait", params=WAIT).json()
    return base, session["run_id"], run


def events(admin: Actor, base: str, run_id: str) -> dict[str, dict[str, Any]]:
    page = admin.get(f"{base}/events", params={"run_id": run_id, "limit": 1000}).json()
    return {e["type"]: e["data"] for e in page["items"]}


def size(data: Any) -> int:
    return len(json.dumps(data, separators=(",", ":")).encode())


def test_a_large_output_is_read_from_the_run_not_its_event(admin: Actor) -> None:
    base, run_id, run = start(admin, "big_output", output=True)
    assert run["status"] == "succeeded", run
    succeeded = events(admin, base, run_id)["run.succeeded"]
    assert succeeded == {
        "output_omitted": True,
        "output_bytes": size({"text": "x" * CHARS}),
        "read": f"GET {base}/runs/{run_id}",
    }
    whole = admin.get(f"{base}/runs/{run_id}").json()
    assert whole["output"] == {"text": "x" * CHARS}


def test_a_long_error_is_left_out_of_the_failure_events(admin: Actor) -> None:
    base, run_id, run = start(admin, "loud_failure")
    assert run["status"] == "failed", run
    seen = events(admin, base, run_id)
    error = "ValueError: " + "y" * CHARS
    for kind in ("node.failed", "run.failed"):
        assert size(seen[kind]) <= EVENT_CAP
        assert seen[kind]["error_omitted"] is True and "error" not in seen[kind]
        assert seen[kind]["read"] == f"GET {base}/runs/{run_id}"
    assert seen["node.failed"]["node_id"] == "n"
    whole = admin.get(f"{base}/runs/{run_id}").json()
    assert whole["error"] == f"node 'n' failed: {error}"
    assert whole["steps"][0]["error"] == error


def test_a_long_question_is_left_out_of_its_event_and_shown_with_the_run(admin: Actor) -> None:
    base, run_id, run = start(admin, "long_question")
    assert run["status"] == "interrupted", run
    asked = events(admin, base, run_id)["node.interrupted"]
    assert size(asked) <= EVENT_CAP
    assert asked["question_omitted"] is True and asked["choices_omitted"] is True
    assert asked["interrupt_id"] and asked["read"] == f"GET {base}/runs/{run_id}"
    (question,) = admin.get(f"{base}/runs/{run_id}").json()["pending_questions"]
    assert question["question"] == "q" * CHARS
    assert question["choices"] == ["c" * CHARS, "yes"]


def test_a_large_artifact_state_or_patch_is_read_from_the_artifact(admin: Actor) -> None:
    base = f"/api/v1/apps/{admin.create_app('caps-artifact')}"
    made = admin.post(f"{base}/artifacts", {"type": "Big", "initial_state": {"a": "x" * CHARS}})
    assert made.status_code == 201, made.text
    artifact_id = made.json()["id"]
    patched = admin.patch(f"{base}/artifacts/{artifact_id}", {"b": "y" * CHARS, "small": 1})
    assert patched.status_code == 200, patched.text
    page = admin.get(f"{base}/events", params={"artifact_id": artifact_id}).json()
    created, updated = (e["data"] for e in page["items"])
    read = f"GET {base}/artifacts/{artifact_id}"
    assert created == {
        "artifact_id": artifact_id,
        "type": "Big",
        "flow": None,
        "version": 1,
        "state_omitted": True,
        "state_bytes": size({"a": "x" * CHARS}),
        "read": read,
    }
    assert updated["version"] == 2 and updated["patch_omitted"] is True
    assert updated["patch_bytes"] == size({"b": "y" * CHARS, "small": 1})
    assert updated["read"] == read and "patch" not in updated and size(updated) <= EVENT_CAP
    whole = admin.get(f"{base}/artifacts/{artifact_id}").json()
    assert whole["version"] == 2
    assert whole["state"] == {"a": "x" * CHARS, "b": "y" * CHARS, "small": 1}
    small = admin.patch(f"{base}/artifacts/{artifact_id}", {"small": 2})
    assert small.status_code == 200
    page = admin.get(f"{base}/events", params={"artifact_id": artifact_id}).json()
    assert page["items"][-1]["data"]["patch"] == {"small": 2}  # small ones stay whole
