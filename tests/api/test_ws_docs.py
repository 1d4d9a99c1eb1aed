"""docs/api.md's "The WebSocket" section, replayed against a live `podium serve`.

The example session (the first fenced block under "### An example session") is the script:
`>` lines are sent as they are (with `$TOKEN`, `$APP`, `$SESSION` and `$INTERRUPT`
substituted, as the Quickstart's shell variables would be), `<` lines must arrive, in order
(other messages may come between them, e.g. events the section leaves out). As in the
README's replay, ids (`usr_…`) and times are masked and `…` stands for anything.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
import websockets
from tests.api.live import ROOT, LiveServer, ask_flow, create_admin, login, server_env
from tests.api.test_live_server import normalize

DOC = ROOT / "docs" / "api.md"
WAIT_SECONDS = 10.0


def example_session(text: str) -> list[tuple[str, str]]:
    """The (direction, message) lines of the section's example session."""
    section = re.search(r"^## The WebSocket\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert section, "docs/api.md has no '## The WebSocket' section"
    example = re.search(
        r"^### An example session\n.*?^```[^\n]*\n(.*?)^```$", section.group(1), re.S | re.M
    )
    assert example, "no '### An example session' with a fenced block in The WebSocket"
    lines = []
    for line in example.group(1).splitlines():
        if not line.strip():
            continue
        direction, _, message = line.partition(" ")
        assert direction in (">", "<"), f"a line of the example is > or <: {line!r}"
        lines.append((direction, message.strip()))
    return lines


def matches(documented: str, actual: str) -> bool:
    wanted = normalize(documented)
    pattern = ".*".join(re.escape(part) for part in wanted.split("…"))
    return re.fullmatch(pattern, normalize(actual)) is not None


def test_the_matcher_masks_ids_and_times_and_sees_a_wrong_value() -> None:
    app = "app_01m932f9ks6ykp5csvaw1qxa9d"
    actual = json.dumps({"type": "pong", "data": {"ts": 1796473333.36}, "id": 1, "app": app})
    assert matches(
        '{"type": "pong", "data": {"ts": 1796000000.1}, "id": 1, "app": "app_…"}', actual
    )
    assert matches('{"type": "pong", …, "id": 1, …}', actual)
    assert not matches('{"type": "pong", …, "id": 2, …}', actual)
    assert not matches('{"type": "ping", …}', actual)


async def replay(url: str, lines: list[tuple[str, str]], values: dict[str, str]) -> list[str]:
    """Play the session; every message received (for the failure message)."""
    received: list[str] = []
    async with websockets.connect(url) as ws:
        for direction, message in lines:
            for name, value in values.items():
                message = message.replace(f"${name}", value)
            if direction == ">":
                json.loads(message)  # the documented message is JSON as it stands
                await ws.send(message)
                continue
            while True:
                try:
                    raw = await asyncio.wait_for(ws.recv(), WAIT_SECONDS)
                except TimeoutError:
                    raise AssertionError(
                        f"documented\n{message}\nnever came; received:\n" + "\n".join(received)
                    ) from None
                received.append(str(raw))
                if matches(message, str(raw)):
                    break
    return received


@pytest.mark.slow
def test_the_documented_websocket_session_runs_as_documented(tmp_path: Path) -> None:
    lines = example_session(DOC.read_text())
    assert [d for d, _ in lines].count(">") >= 4
    env = server_env()
    create_admin(tmp_path / "podium.db", env)
    server = LiveServer(tmp_path / "podium.db", env).start()
    try:
        token = login(server)
        app = server.call("POST", "/apps", {"name": "demo"}, token)["id"]
        server.call("POST", f"/apps/{app}/flows", ask_flow(), token)
        session = server.call("POST", f"/apps/{app}/sessions", {"flow": "ask", "input": {}}, token)
        run = server.call(
            "GET", f"/apps/{app}/runs/{session['run_id']}/wait?timeout=20", None, token
        )
        assert run["status"] == "interrupted", run
        view = server.call("GET", f"/apps/{app}/sessions/{session['id']}", None, token)
        values = {
            "TOKEN": token,
            "APP": app,
            "SESSION": session["id"],
            "INTERRUPT": view["pending_question"]["interrupt_id"],
        }
        url = server.origin.replace("http://", "ws://") + "/api/v1/ws"
        received = asyncio.run(replay(url, lines, values))
        assert received
        final = server.call("GET", f"/apps/{app}/sessions/{session['id']}", None, token)
        assert final["state"]["greeting"] == "Hello, Ada!"
    finally:
        server.stop()
    assert "Traceback" not in server.output()
