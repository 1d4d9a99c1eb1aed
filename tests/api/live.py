"""A live `podium serve` process for the end-to-end tests (README walk-through, restarts,
schemathesis): started on a free port over a database file, stopped by a signal.

Not a test module: tests/api/test_live_server.py and tests/api/test_schemathesis.py use it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # .venv/bin when the tests run with .venv/bin/pytest
SECRET = "live-server-test-secret-key-long-enough-for-hs256"
PASSWORD = "change-me-please"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(secret: str | None = SECRET, **extra: str) -> dict[str, str]:
    """The environment of a server (and CLI) process: fast polling, no inherited PODIUM_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env.update(
        PODIUM_WORKERS="2",
        PODIUM_POLL_SECONDS="0.1",
        PODIUM_LEASE_SECONDS="3",
        PODIUM_RATE_LIMIT="1000000/minute",
        PODIUM_LOGIN_RATE_LIMIT="1000000/minute",
        PODIUM_LOGIN_ADDRESS_RATE_LIMIT="1000000/minute",
    )
    if secret is not None:
        env["PODIUM_SECRET_KEY"] = secret
    env.update(extra)
    return env


@dataclass
class LiveServer:
    """`podium serve --host 127.0.0.1 --port PORT --db DB` as a subprocess."""

    db: Path
    env: dict[str, str]
    # A database URL (PostgreSQL) to serve instead of the SQLite file `db`; `db`'s folder
    # still holds the logs.
    database_url: str | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    starts: int = 0
    args: tuple[str, ...] = ()  # more options of `podium serve` (e.g. "--dev")

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.origin}/api/v1"

    def start(self, timeout: float = 30.0) -> LiveServer:
        assert self.process is None, "already running"
        self.starts += 1
        self.log = self.db.parent / f"server-{self.port}-{self.starts}.log"
        command = [str(BIN / "podium"), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--db", self.database_url or str(self.db), *self.args]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as reply:
                    if json.load(reply)["status"] == "ok":
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if self.process.poll() is not None:
                raise AssertionError(f"podium serve exited early:\n{self.output()}")
            if time.monotonic() > deadline:
                self.stop(signal.SIGKILL)
                raise AssertionError(f"podium serve did not answer in {timeout} s")
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send `sig` and wait for the process to end; its exit status."""
        process, self.process = self.process, None
        assert process is not None, "not running"
        if process.poll() is None:
            process.send_signal(sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            message = f"podium serve did not stop on {sig!r}:\n{self.output()}"
            raise AssertionError(message) from None

    def wait_for_output(self, text: str, timeout: float = 30.0) -> str:
        """The output once it holds `text` (fails after `timeout` seconds, or if the server
        exits first)."""
        deadline = time.monotonic() + timeout
        while text not in self.output():
            exited = self.process is None or self.process.poll() is not None
            if exited or time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} in the output of podium serve:\n{self.output()}")
            time.sleep(0.1)
        return self.output()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One JSON call (`path` under /api/v1): (status, decoded body or None)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                raw = reply.read()
                status = reply.status
        except urllib.error.HTTPError as error:
            raw = error.read()
            status = error.code
        return status, (json.loads(raw) if raw else None)

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        """`request`, asserting a 2xx answer; the decoded body."""
        status, answer = self.request(method, path, body, token)
        assert 200 <= status < 300, f"{method} {path} -> {status} {answer}"
        return answer


def create_admin(db: Path | str, env: dict[str, str], username: str = "admin") -> None:
    """`podium users create-admin`, the way the README does it."""
    subprocess.run(
        [
            *(str(BIN / "podium"), "users", "create-admin", "--email", f"{username}@example.com"),
            *("--username", username, "--password", PASSWORD, "--db", str(db)),
        ],
        check=True,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def login(server: LiveServer, username: str = "admin", password: str = PASSWORD) -> str:
    answer = server.call("POST", "/auth/login", {"identifier": username, "password": password})
    return str(answer["access_token"])


def ask_flow() -> dict[str, Any]:
    flow: dict[str, Any] = json.loads((ROOT / "examples" / "flows" / "ask.json").read_text())
    return flow
