"""SIGKILL in the middle of an agent's loop, after one LLM call and one tool call finished:
after a restart neither runs again (counted at the fake OpenAI server and in the tool), the
call in flight runs again, and the run completes.

The server is a real `podium serve` process on SQLite; the model is the OpenAI fake in this
process, reached through PODIUM_OPENAI_BASE_URL; the tool is tests/support/crash_tools.py,
loaded through PODIUM_TOOL_MODULES, and writes a line per execution to a file.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from tests.api.live import ROOT, LiveServer, create_admin, login, server_env
from tests.support.fake_openai import FakeOpenAI


def wait_for(condition: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["role"] == "tool"]


@pytest.mark.slow
def test_a_killed_agent_loop_repeats_no_finished_llm_or_tool_call(tmp_path: Path) -> None:
    tool_log = tmp_path / "tool-calls.log"
    tool_log.touch()
    with FakeOpenAI(api_key="sk-test") as model:
        model.reply_tool_calls([("crash_count", {"n": 21})])  # LLM call 1: asks for the tool
        model.reply_hang(60)  # LLM call 2: in flight when the server is killed
        model.reply_text("The answer is 42")  # LLM call 2, again, after the restart
        db = tmp_path / "podium.db"
        env = server_env(
            PODIUM_OPENAI_BASE_URL=model.base_url,
            PODIUM_OPENAI_API_KEY="sk-test",
            PODIUM_LLM_MAX_RETRIES="0",
            PODIUM_TOOL_MODULES="tests.support.crash_tools",
            PYTHONPATH=str(ROOT),
            CRASH_TOOL_LOG=str(tool_log),
        )
        create_admin(db, env)
        server = LiveServer(db, env).start()
        try:
            token = login(server)
            app = server.call("POST", "/apps", {"name": "crashes"}, token)["id"]
            agent = {"name": "counter", "model": "openai/gpt-test", "tools": ["crash_count"]}
            server.call("POST", f"/apps/{app}/agents", agent, token)
            session = server.call(
                "POST",
                f"/apps/{app}/sessions",
                {"flow": "chat", "input": {"agent": "counter", "message": "double 21"}},
                token,
            )
            # The second LLM call has arrived: the first and the tool call are recorded.
            wait_for(lambda: model.count == 2, "the second LLM call")
            assert tool_log.read_text().count("\n") == 1
            assert server.stop(signal.SIGKILL) == -signal.SIGKILL

            server.start()
            run = server.call(
                "GET", f"/apps/{app}/runs/{session['run_id']}/wait?timeout=40", None, token
            )
            assert run["status"] == "succeeded", (run, server.output())
            assert run["output"] == {"answer": "The answer is 42"}

            # At the model: call 1 once (the only request without the tool's result), call 2
            # twice (killed in flight, then again).
            assert model.count == 3
            first, *seconds = (r.body for r in model.requests)
            assert tool_messages(first) == []
            assert all(len(tool_messages(body)) == 1 for body in seconds)
            assert '"doubled": 42' in tool_messages(seconds[-1])[0]["content"]
            # In the tool: once, in the first server process.
            assert tool_log.read_text().count("\n") == 1
            calls = server.call("GET", f"/apps/{app}/tool-calls", None, token)["items"]
            assert [(c["tool"], c["status"], c["result"]) for c in calls] == [
                ("crash_count", "ok", {"doubled": 42})
            ]
            history = server.call("GET", f"/apps/{app}/chat/{session['id']}/history", None, token)
            assert [(m["data"]["role"], m["data"]["content"]) for m in history] == [
                ("user", "double 21"),
                ("assistant", "The answer is 42"),
            ]
        finally:
            if server.process is not None:
                server.stop()
    assert "Traceback" not in server.output(), server.output()
