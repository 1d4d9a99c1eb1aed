"""docs/api.md's editor-protocol example, replayed over a real WebSocket: every ```ws block's
`>` lines are sent (with `$APP` and `$SESSION` filled in) and the `<` lines must be what comes
back, in order. A string ending in `…` stands for an id with that prefix; the live `running`
statuses (seq null) may be missing (only a socket of the process running the node sees them),
never out of place."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.api.conftest import Actor

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def exchanges(text: str) -> list[tuple[str, dict[str, Any]]]:
    """The `>`/`<` lines of the document's ```ws blocks, in order."""
    lines = []
    for block in re.findall(r"^```ws\n(.*?)^```$", text, re.S | re.M):
        for line in block.splitlines():
            direction, _, message = line.partition(" ")
            assert direction in (">", "<"), f"a ws block line starts with > or <: {line}"
            lines.append((direction, json.loads(message)))
    return lines


def matches(documented: Any, actual: Any) -> bool:
    if isinstance(documented, str) and documented.endswith("…"):
        return isinstance(actual, str) and actual.startswith(documented[:-1])
    if isinstance(documented, dict):
        return (
            isinstance(actual, dict)
            and documented.keys() == actual.keys()
            and all(matches(documented[k], actual[k]) for k in documented)
        )
    if isinstance(documented, list):
        return (
            isinstance(actual, list)
            and len(documented) == len(actual)
            and all(matches(d, a) for d, a in zip(documented, actual, strict=True))
        )
    return bool(documented == actual)


def live(message: dict[str, Any]) -> bool:
    return message["type"] == "execution.node.status" and message["data"]["seq"] is None


def test_the_matcher_tells_ids_and_values_apart() -> None:
    assert matches({"a": "run_…", "b": [1]}, {"a": "run_01x", "b": [1]})
    assert not matches({"a": "run_…"}, {"a": "ses_01x"})
    assert not matches({"a": 1}, {"a": 1, "b": 2})
    assert not matches([1, 2], [1])


def test_the_editor_protocol_example_replays(admin: Actor) -> None:
    lines = exchanges(DOC.read_text())
    assert [d for d, _ in lines].count(">") == 2, "the example starts a run, then a re-run"
    app_id = admin.create_app("editor")
    session_id = ""
    with admin.client.websocket_connect(f"/api/v1/ws?token={admin.access_token}") as ws:
        assert ws.receive_json()["type"] == "connection.ready"
        index = 0
        while index < len(lines):
            direction, message = lines[index]
            if direction == ">":
                text = json.dumps(message).replace("$APP", app_id).replace("$SESSION", session_id)
                ws.send_text(text)
                index += 1
                continue
            expected = []
            while index < len(lines) and lines[index][0] == "<":
                expected.append(lines[index][1])
                index += 1
            received = []
            while len(received) < len(expected):
                got = ws.receive_json()
                received.append(got)
                if got["type"] == "execution.started":
                    session_id = got["data"]["session_id"]
                if got["type"].startswith("execution.completed"):
                    break
            settled = [m for m in expected if not live(m)]
            arrived = [m for m in received if not live(m)]
            assert len(arrived) == len(settled), received
            for documented, actual in zip(settled, arrived, strict=True):
                assert matches(documented, actual), f"documented {documented}\ngot {actual}"
            # The live statuses that arrived are the documented ones, each after the node's
            # pending status and before its completion.
            for position, message in enumerate(received):
                if live(message):
                    node = message["data"]["node_id"]
                    assert any(matches(m, message) for m in expected if live(m)), message
                    before = [m["data"].get("node_id") for m in received[:position]]
                    after = [m["data"].get("node_id") for m in received[position + 1 :]]
                    assert node in before and node in after, received
