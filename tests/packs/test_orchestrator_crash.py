"""SIGKILL in the middle of an orchestrator batch: one task's agent finished (its tool ran
once), the other's LLM call is in flight. After a restart the finished agent call is not
repeated (counted in the tool), the one in flight runs again (counted at the fake OpenAI
server), and the thread completes with both answers. On every backend.

The server is a real `podium serve` process; the `poet` agent's model is the OpenAI fake in
this process (PODIUM_OPENAI_BASE_URL); the `tallier` agent runs on `offline/script` and calls
tests/support/crash_tools.py's `crash_count`, which writes a line per execution.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from tests.api.live import ROOT, login
from tests.packs.conftest import Client, start_server

from support.fake_openai import FakeOpenAI

TALLIER = {
    "name": "tallier",
    "description": "Tallies votes.",
    "model": "offline/script",
    "tools": ["crash_count"],
    "capabilities": {"tags": ["tally", "votes"], "description": "Counts votes."},
    "script": [
        {"tool_calls": [{"name": "crash_count", "arguments": {"n": 21}}]},
        {"text": "42 votes."},
    ],
}
POET = {
    "name": "poet",
    "description": "Writes poems.",
    "model": "openai/gpt-test",
    "capabilities": {"tags": ["poem", "poetry"], "description": "Writes a poem."},
}


def wait_for(condition: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_killed_batch_repeats_no_finished_agent_call(database_url: str, tmp_path: Path) -> None:
    tool_log = tmp_path / "tool-calls.log"
    tool_log.touch()
    with FakeOpenAI(api_key="sk-test") as model:
        model.reply_hang(60)  # the poet's call: in flight when the server is killed
        model.reply_text("Roses are red.")  # the same call, after the restart
        server = start_server(
            database_url,
            tmp_path,
            PODIUM_OPENAI_BASE_URL=model.base_url,
            PODIUM_OPENAI_API_KEY="sk-test",
            PODIUM_LLM_MAX_RETRIES="0",
            PODIUM_TOOL_MODULES="tests.support.crash_tools",
            PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            CRASH_TOOL_LOG=str(tool_log),
            PODIUM_ORCHESTRATOR_WAIT_SECONDS="1",
        )
        try:
            token = login(server)
            app = server.call("POST", "/apps", {"name": "crashes"}, token)["id"]
            client = Client(server, token, app)
            client.enable("orchestrator")
            client.call("POST", "/agents", TALLIER)
            client.call("POST", "/agents", POET)
            started = client.call(
                "POST", "/orchestrator/chat", {"prompt": "tally the votes and write a poem"}
            )
            # POST …/chat waited PODIUM_ORCHESTRATOR_WAIT_SECONDS; the run goes on.
            assert started["status"] == "running" and started["final_response"] is None
            wait_for(lambda: tool_log.read_text().count("\n") == 1, "the tallier's tool call")
            wait_for(lambda: model.count == 1, "the poet's LLM call")
            time.sleep(1.0)  # the tallier's last turn (offline, at once) and its recorded call
            assert server.stop(signal.SIGKILL) == -signal.SIGKILL

            server.start()
            thread = started["thread_id"]
            deadline = time.monotonic() + 60
            while (answer := client.call("GET", f"/orchestrator/status/{thread}"))[
                "status"
            ] == "running":
                assert time.monotonic() < deadline, answer
                time.sleep(0.2)
            assert answer["status"] == "completed", (answer, server.output())
            assert [(p["agent"], p["batch"], p["answer"]) for p in answer["task_agent_pairs"]] == [
                ("tallier", 0, "42 votes."),
                ("poet", 0, "Roses are red."),
            ]
            assert tool_log.read_text().count("\n") == 1  # the finished agent call: once
            assert model.count == 2  # the one in flight: again, once
            calls = client.call("GET", "/tool-calls")["items"]
            assert [(c["tool"], c["status"]) for c in calls] == [("crash_count", "ok")]
        finally:
            if server.process is not None:
                server.stop()
    assert "Traceback" not in server.output(), server.output()
