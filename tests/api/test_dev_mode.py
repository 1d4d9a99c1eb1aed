"""`podium serve --dev`: loopback only; makes the administrator `admin` and the app `demo`
(every example flow registered, the packs enabled) once, and prints a console login link
whose refresh token logs in; every example flow then runs over HTTP."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from tests.api.live import BIN, ROOT, LiveServer, server_env

pytestmark = pytest.mark.slow
LINK = re.compile(r"console: (http://127\.0\.0\.1:\d+)/console/#/login\?refresh=([\w.-]+)")
EXAMPLES = ROOT / "examples" / "flows"
INPUTS = {
    "ask": {},
    "chain": {"text": "Hello   Durable World"},
    "fanout": {"text": "Podium runs flows durably"},
    "loop": {"topic": "durable flows"},
    "router": {"score": 85},
}


def dev_server(tmp_path: Path) -> LiveServer:
    # No examples/flows on PYTHONPATH, no PODIUM_API_PYTHON_MODULES: --dev alone makes the
    # examples runnable.
    env = server_env(secret=None)
    assert "examples" not in env.get("PYTHONPATH", "")
    return LiveServer(tmp_path / "dev.db", env, args=("--dev",))


def wait_run(server: LiveServer, token: str, app: str, run: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        answer = server.call("GET", f"/apps/{app}/runs/{run}", token=token)
        if answer["status"] not in ("queued", "running"):
            return dict(answer)
        assert time.monotonic() < deadline, answer
        time.sleep(0.1)


def test_dev_mode_prepares_a_demo_app_and_prints_a_login_link(tmp_path: Path) -> None:
    server = dev_server(tmp_path).start()
    try:
        output = server.wait_for_output("console: ")
        assert "dev: created the administrator admin with the password " in output
        assert "first run:" not in output  # dev mode made the administrator
        link = LINK.search(output)
        assert link, output
        assert link.group(1) == server.origin
        assert f"API docs: {server.origin}/docs" in output

        # The link's refresh token logs in as admin (what the console's login page does).
        pair = server.call("POST", "/auth/refresh", {"refresh_token": link.group(2)})
        token = pair["access_token"]
        assert pair["user"]["username"] == "admin" and pair["user"]["is_admin"] is True
        apps = server.call("GET", "/apps", token=token)["items"]
        [demo] = [a for a in apps if a["name"] == "demo"]
        flows = {f["name"] for f in server.call("GET", f"/apps/{demo['id']}/flows", token=token)}
        assert set(INPUTS) <= flows
        packs = server.call("GET", f"/apps/{demo['id']}/packs", token=token)
        assert packs and all(p["enabled"] for p in packs), packs

        # Every example flow runs over HTTP, python nodes included.
        for flow, given in INPUTS.items():
            session = server.call(
                "POST", f"/apps/{demo['id']}/sessions", {"flow": flow, "input": given}, token
            )
            run = wait_run(server, token, demo["id"], session["run_id"])
            expected = "interrupted" if flow == "ask" else "succeeded"  # ask waits
            assert run["status"] == expected, (flow, run)
        # And a user may register them again over HTTP (example_nodes is allowed).
        chain = json.loads((EXAMPLES / "chain.json").read_text())
        status, answer = server.request("POST", f"/apps/{demo['id']}/flows", chain, token)
        assert status == 201, answer
    finally:
        server.stop()

    # Again: nothing new is made (no password), the same app, a fresh link.
    server.start()
    try:
        output = server.wait_for_output("console: ")
        assert "created the administrator" not in output
        assert f"dev: app demo ({demo['id']})" in output
        second = LINK.search(output)
        assert second and second.group(2) != link.group(2)
    finally:
        server.stop()


def test_dev_mode_refuses_a_host_other_than_loopback(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "192.168.1.20", "example.com"):
        done = subprocess.run(
            [str(BIN / "podium"), "serve", "--dev", "--host", host, "--db", str(tmp_path / "x.db")],
            capture_output=True,
            text=True,
            env=server_env(),
            cwd=ROOT,
            timeout=60,
        )
        assert done.returncode == 1, done
        assert done.stderr.startswith(
            f"error: podium serve --dev listens on loopback only, not '{host}'"
        ), done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "x.db").exists()  # refused before anything was made
