"""Two processes on one database: a run executing in a `podium worker` process streams its
tokens (`message.delta`, live only) to an SSE client of a `podium serve --workers 0` process.

Both poll every 30 s, so the run is claimed and its events arrive only through LISTEN/NOTIFY on
PostgreSQL, through the stores' watch of the file on SQLite. Live-only events stay in the
process that published them on SQLite: there the run answers without tokens.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.api.live import BIN, ROOT, LiveServer, create_admin, login, server_env

DEADLINE = 20.0  # seconds for the whole chat turn: far below two 30 s polls


def sse(server: LiveServer, path: str, body: dict[str, object], token: str) -> list[tuple]:
    request = urllib.request.Request(
        f"{server.url}{path}", data=json.dumps(body).encode(), method="POST"
    )
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {token}")
    found: list[tuple] = []
    kind, data = None, []
    with urllib.request.urlopen(request, timeout=DEADLINE) as reply:
        for raw in reply:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data.append(line.split(":", 1)[1].strip())
            elif not line and kind is not None:
                found.append((kind, json.loads("\n".join(data))))
                kind, data = None, []
    return found


def test_tokens_of_a_worker_process_reach_an_sse_client_of_the_api(
    database_url: str, tmp_path: Path
) -> None:
    postgres = database_url.startswith("postgres")
    db = tmp_path / "podium.db"
    url = database_url if postgres else str(db)
    env = server_env(PODIUM_POLL_SECONDS="30")
    create_admin(url, env)
    server = LiveServer(db, env, database_url=url, args=("--workers", "0")).start()
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [str(BIN / "podium"), "worker", "--db", url, "--concurrency", "1"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
    )
    try:
        token = login(server)
        app_id = server.call("POST", "/apps", {"name": "scaled"}, token)["id"]
        time.sleep(1.0)  # the worker has started and found nothing to claim
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()
        started = time.monotonic()
        events = sse(
            server,
            f"/apps/{app_id}/chat/stream",
            {"agent": "chat", "message": "one two three four"},
            token,
        )
        assert time.monotonic() - started < DEADLINE
        kinds = [k for k, _ in events]
        assert kinds[0] == "chat.started" and kinds[-1] == "done", kinds
        assert "run.succeeded" in kinds, kinds
        deltas = [d["data"]["delta"] for k, d in events if k == "message.delta"]
        if postgres:
            assert "".join(deltas) == "one two three four", kinds
            assert kinds.index("message.delta") < kinds.index("run.succeeded")
        else:
            assert deltas == [], kinds
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
        server.stop()
