"""The storyflow example over the WebSocket, as a visual editor drives it (docs/api.md,
"Executing a graph from an editor"), on the offline model: every node's events in order
(pending for all, then each node's completion with its output), a re-run from storyTeller
with the outputs the editor kept runs only it and its downstream nodes (asserted from the
messages and from the run's steps), and the editor's inline graph (React Flow handles, a
provider for the run) runs the same chain."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from starlette.testclient import WebSocketTestSession
from tests.packs.test_storyflow import (
    EXAMPLE,
    MIRA,
    ORDER,
    PROMPT,
    Studio,
    node_steps,
    studio,  # noqa: F401
)

UPSTREAM = ["character", "initial", "enhancer"]
RERUN = ["storyteller", "grammar", "compressor", "output"]


def connect(caller: Studio) -> Any:
    token = caller.headers["Authorization"].removeprefix("Bearer ")
    return caller.client.websocket_connect(f"/api/v1/ws?token={token}")


def receive_until(
    ws: WebSocketTestSession, wanted: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    messages = []
    while True:
        message = ws.receive_json()
        messages.append(message)
        if wanted(message):
            return messages


def ended(message: dict[str, Any]) -> bool:
    return message["type"] in ("execution.completed", "execution.failed", "execution.cancelled")


def execute(ws: WebSocketTestSession, data: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """execution.start → (its reply's data, every message of the run up to its end)."""
    ws.send_json({"type": "execution.start", "id": "go", "data": data})
    reply = ws.receive_json()
    assert reply["type"] == "execution.started" and reply["id"] == "go", reply
    return reply["data"], receive_until(ws, ended)


def node_events(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(node, status) in order; `running` is live-only (sent by the process that runs the
    node), so it is checked apart."""
    seen = []
    for message in messages:
        data = message["data"]
        if message["type"] == "execution.node.status" and data["status"] != "running":
            seen.append((data["node_id"], data["status"]))
        elif message["type"] == "execution.node.completed":
            seen.append((data["node_id"], "cached" if data.get("cached") else "completed"))
        elif message["type"] == "execution.node.failed":
            seen.append((data["node_id"], "failed"))
    return seen


def completed_outputs(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        m["data"]["node_id"]: m["data"]["output"]
        for m in messages
        if m["type"] == "execution.node.completed"
    }


def test_the_example_runs_over_the_websocket_and_reruns_from_storyteller(
    studio: Studio,  # noqa: F811
) -> None:
    studio.ok("POST", f"{studio.pack}/characters", MIRA)
    with connect(studio) as ws:
        assert ws.receive_json()["type"] == "connection.ready"
        start = {
            "app_id": studio.app_id,
            "flow": "storyflow_story",
            "input": {"prompt": PROMPT},
            "include_outputs": True,
        }
        reply, messages = execute(ws, start)
        assert reply["nodes"] == ORDER
        assert messages[-1]["type"] == "execution.completed", messages[-1]
        assert node_events(messages) == [(n, "pending") for n in ORDER] + [
            (n, "completed") for n in ORDER
        ]
        # A node is running before it completes (this socket is in the process that runs it).
        running = [
            m["data"]["node_id"]
            for m in messages
            if m["type"] == "execution.node.status" and m["data"]["status"] == "running"
        ]
        assert running == ORDER
        outputs = completed_outputs(messages)
        # What the messages carry is what the run's steps hold, and the run's outputs.
        run = studio.ok("GET", f"{studio.base}/runs/{reply['run_id']}")
        assert {s["node_id"]: s["output"] for s in run["steps"]} == outputs
        assert messages[-1]["data"]["outputs"] == outputs
        assert messages[-1]["data"]["output"] == {"output": outputs["output"]["output"]}
        assert "- Mira: a young lighthouse keeper" in outputs["storyteller"]["storyteller"]["text"]

        # The editor edits the enhanced prompt and runs again from the story, sending the
        # outputs it kept for the nodes upstream.
        cached = {node: copy.deepcopy(outputs[node]) for node in UPSTREAM}
        cached["enhancer"]["enhancer"]["text"] = "A keeper finds a map."
        again = {
            "app_id": studio.app_id,
            "session_id": reply["session_id"],
            "trigger_node_id": "storyteller",
            "cached_outputs": cached,
        }
        rerun_reply, rerun = execute(ws, again)
    assert rerun[-1]["type"] == "execution.completed", rerun[-1]
    assert node_events(rerun) == (
        [(n, "pending") for n in ORDER]
        + [(n, "cached") for n in UPSTREAM]
        + [(n, "completed") for n in RERUN]
    )
    rerun_outputs = completed_outputs(rerun)
    assert {n: rerun_outputs[n] for n in UPSTREAM} == cached
    story = rerun_outputs["storyteller"]["storyteller"]["text"]
    assert story.endswith("Prompt: A keeper finds a map.")
    # The run's steps say the same: only storyTeller and what follows it ran.
    steps = studio.ok("GET", f"{studio.base}/runs/{rerun_reply['run_id']}")
    assert node_steps(steps) == [(n, "cached") for n in UPSTREAM] + [
        (n, "succeeded") for n in RERUN
    ]


def test_the_editor_s_inline_graph_with_handles_and_a_provider(studio: Studio) -> None:  # noqa: F811
    studio.ok("POST", f"{studio.pack}/characters", MIRA)
    # Without the run's provider, the app's default model would be used (and fail).
    studio.ok("PATCH", studio.base, {"default_model": "elsewhere/model-a"})
    graph = copy.deepcopy(EXAMPLE)
    for edge in graph["edges"]:
        edge["targetHandle"] = edge.pop("target_port")  # as React Flow saves it
        edge["sourceHandle"] = "adapter" if edge["source"] == "character" else "text"
    with connect(studio) as ws:
        ws.receive_json()
        start = {
            "app_id": studio.app_id,
            "name": "from_the_canvas",
            "nodes": graph["nodes"],
            "edges": graph["edges"],
            "viewport": graph["viewport"],
            "input": {"prompt": PROMPT},
            "provider_id": "offline",
        }
        reply, messages = execute(ws, start)
    assert reply["model"] == "offline/echo"
    assert messages[-1]["type"] == "execution.completed", messages[-1]
    assert node_events(messages)[len(ORDER) :] == [(n, "completed") for n in ORDER]
    outputs = completed_outputs(messages)
    assert outputs["storyteller"]["storyteller"]["model"] == "offline/echo"
    stored = studio.ok("GET", f"{studio.base}/flows/from_the_canvas")
    assert stored["definition"]["edges"][0]["targetHandle"] == "adapter"
    assert stored["definition"]["viewport"] == graph["viewport"]
