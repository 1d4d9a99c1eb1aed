"""`podium serve --processes N`: N API processes on one port over PostgreSQL; refused on
SQLite (the reason said)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from podium.cli import main

pytestmark = pytest.mark.slow

POSTGRES_URL = os.environ.get("PODIUM_TEST_DATABASE_URL")
SRC = Path(__file__).resolve().parents[2] / "src"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{pid}\n" in status:
                found.add(int(entry))
    return found


def socket_owner(inode: str, pids: set[int]) -> int | None:
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


def server_side_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server's end of the connection from `client_port` (/proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == (
            client_port
        ):
            return fields[9]
    return None


def serving_pid(port: int, pids: set[int]) -> int | None:
    """Which of `pids` answers a new connection to the port."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/api/v1/health")
        response = connection.getresponse()
        assert response.status == 200
        response.read()
        inode = server_side_inode(port, connection.sock.getsockname()[1])
        return socket_owner(inode, pids) if inode else None
    finally:
        connection.close()


def wait_until_up(port: int, server: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        assert server.poll() is None, f"the server exited ({server.returncode})"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            assert time.monotonic() < deadline, "the server never listened"
            time.sleep(0.1)


def two_api_processes_serve_one_port(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(SRC), PODIUM_DRAIN_SECONDS="2")
    log = tmp_path / "serve.log"
    with log.open("ab") as output:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "podium",
                "serve",
                "--processes",
                "2",
                "--workers",
                "0",
                "--port",
                str(port),
                "--db",
                database_url,
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(port, server)
        deadline = time.monotonic() + 60
        while len(children(server.pid)) < 2:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        pids = children(server.pid)
        seen = set()
        while len(seen) < 2 and time.monotonic() < deadline:
            seen.add(serving_pid(port, pids))
            seen.discard(None)
        assert len(seen) == 2 and seen <= pids, (seen, pids, log.read_text())
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        assert server.returncode == 0, log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        for pid in children(server.pid):
            os.kill(pid, signal.SIGKILL)


if POSTGRES_URL:  # collected under scripts/with-postgres (make test-postgres) only

    def test_two_api_processes_serve_one_port_on_postgresql(
        postgres_migrated: str, tmp_path: Path
    ) -> None:
        two_api_processes_serve_one_port(postgres_migrated, tmp_path)


def test_several_processes_are_refused_on_sqlite_with_the_reason(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["serve", "--processes", "2", "--db", str(tmp_path / "podium.db")]
    )
    assert result.exit_code != 0
    assert "--processes needs PostgreSQL" in result.output
    assert "single write lock" in result.output
