"""SIGKILL a real `podium serve` while an agent's `side_effect` tool call blocks: after the
restart the run waits with an `in_doubt` question (the tool is not called again, counted in
a file), a bad answer is a 422 that says what to send, and `done` with a result goes on with
that result (the model reads it as the tool's).

The model is the OpenAI fake in this process; the tool is tests/support/doubt_live_tools.py,
loaded through PODIUM_TOOL_MODULES.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from tests.api.live import ROOT, LiveServer, create_admin, login, server_env
from tests.support.fake_openai import FakeOpenAI


def wait_for(condition: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return found


@pytest.mark.slow
def test_a_side_effect_killed_in_the_call_waits_in_doubt_and_is_answered(
    tmp_path: Path,
) -> None:
    tool_log, gate = tmp_path / "payments.log", tmp_path / "gate"
    tool_log.touch()
    gate.write_text("closed")
    with FakeOpenAI(api_key="sk-test") as model:
        model.reply_tool_calls([("send_payment_live", {"amount": 5})])
        model.reply_text("Paid, receipt manual-1")  # after the answer
        db = tmp_path / "podium.db"
        env = server_env(
            PODIUM_OPENAI_BASE_URL=model.base_url,
            PODIUM_OPENAI_API_KEY="sk-test",
            PODIUM_LLM_MAX_RETRIES="0",
            PODIUM_TOOL_MODULES="tests.support.doubt_live_tools",
            PYTHONPATH=str(ROOT),
            DOUBT_TOOL_LOG=str(tool_log),
            DOUBT_TOOL_GATE=str(gate),
        )
        create_admin(db, env)
        server = LiveServer(db, env).start()
        try:
            token = login(server)
            app = server.call("POST", "/apps", {"name": "payments"}, token)["id"]
            agent = {"name": "payer", "model": "openai/gpt-test", "tools": ["send_payment_live"]}
            server.call("POST", f"/apps/{app}/agents", agent, token)
            session = server.call(
                "POST",
                f"/apps/{app}/sessions",
                {"flow": "chat", "input": {"agent": "payer", "message": "pay 5"}},
                token,
            )
            wait_for(Path(f"{gate}.reached").exists, "the tool call")
            assert server.stop(signal.SIGKILL) == -signal.SIGKILL
            gate.unlink()

            server.start()
            path = f"/apps/{app}/sessions/{session['id']}"
            waiting = wait_for(
                lambda: (s := server.call("GET", path, None, token))["pending_question"] and s,
                "the in_doubt question",
                timeout=40,
            )
            question = waiting["pending_question"]
            assert waiting["status"] == "waiting"
            assert question["kind"] == "in_doubt"
            assert question["question"].startswith(
                "in doubt: send_payment_live was called by node "
            )
            assert '{"amount": 5}' in question["question"]
            assert tool_log.read_text().count("\n") == 1  # not called again

            for bad, says in [
                ("yes", "an in_doubt question is answered with"),
                ({"action": "fail"}, "needs a reason"),
                ({"action": "retry", "reason": "x"}, "takes no reason"),
            ]:
                body = {"interrupt_id": question["interrupt_id"], "answer": bad}
                status, error = server.request("POST", f"{path}/input", body, token)
                assert status == 422, (status, error)
                assert error["error"]["code"] == "invalid_input"
                assert says in error["error"]["message"]

            done = {"action": "done", "result": {"paid": 5, "receipt": "manual-1"}}
            body = {"interrupt_id": question["interrupt_id"], "answer": done}
            server.call("POST", f"{path}/input", body, token)
            run = server.call(
                "GET", f"/apps/{app}/runs/{session['run_id']}/wait?timeout=40", None, token
            )
            assert run["status"] == "succeeded", (run, server.output())
            assert run["output"] == {"answer": "Paid, receipt manual-1"}
            # The model read the supplied result as the tool's; the tool ran once in all.
            tool_message = [m for m in model.requests[-1].body["messages"] if m["role"] == "tool"]
            assert '"receipt": "manual-1"' in tool_message[0]["content"]
            assert tool_log.read_text().count("\n") == 1
        finally:
            if server.process is not None:
                server.stop()
    assert "Traceback" not in server.output(), server.output()
