"""The chaos test of a scaled-out deployment on PostgreSQL (issue 17).

Topology: two API processes (`podium serve --workers 0`, one port each) and three
`podium worker` processes (4 slots each), all on one PostgreSQL database, with a 3-second
lease (a heartbeat every second, a sweeper every 1.5 s).

Load: 200 sessions of the flow `chaos` (below): a node making a recorded call, then two
parallel branches making one each while a third branch asks a question, which the test answers
over the API (from whichever API process is up), then a join making a fourth recorded call. A
recorded call posts to a counter server the test runs on loopback, which counts it in a SQLite
file of its own, outside Podium (tests/chaos/chaos_nodes.py).

Faults, while the load runs: every 4 s a worker (one holding runs, if one is up) is SIGKILLed
and started again; one worker holding runs is SIGSTOPped for more than twice its lease (the
others take its runs over) and then SIGCONTinued (its heartbeat and its step commits are
fenced out: they change nothing); one API process is SIGKILLed while clients stream from it
(they reconnect to the other with the last seq they saw). Each fault leaves at least one
worker up. Streaming clients: three following the app's events over SSE
(`Last-Event-ID` on reconnect) and two over the WebSocket (`subscribe` with `since`), spread
over both API processes.

What "exactly once" means here. The engine records a call's result before the step goes on,
and a recorded call is never run again (its result is replayed). A call whose claim died (a
kill, a lost lease) after it started but before its result was recorded has run without being
recorded, and the claim that takes the run over runs it again: for the side effect itself the
guarantee is at least once. So the counter keys each call by what the engine records it under,
(run, node, iteration, call key), its idempotency key, and applies a key once (a repeat gets
the first application's answer). The test then asserts:

- every run succeeded, every session completed, no run is left queued, running or waiting;
- every call of every run was applied exactly once, and no other was (the side table's
  applied keys are exactly the 4 × 200 calls), and each is recorded exactly once in Podium;
- a recorded call never ran again: of the attempts the counter saw for a call, exactly one
  comes from the claim whose result was recorded and none from a later claim (attempts of
  earlier claims, cut short before recording, are the at-least-once repeats the key absorbs);
- every streaming client saw every logged event of the app (read back with `GET /events`)
  exactly once and in the log's order: no gap, no duplicate.

A SIGSTOP usually lands while the worker is inside a database transaction (under this load a
worker nearly always has one open). Stopped there it holds row locks, the app's row among them
(it orders the app's events), and every writer of the app would wait until it resumes: the
store's pool connections set `idle_in_transaction_session_timeout` to half the lease, so
PostgreSQL ends that session, its transaction is rolled back, the others write on and take
its runs over when the lease expires. Resumed, the worker finds that connection gone (its run
stops there, `StoreUnavailable`) or its lease lost, and carries on with other runs; the test
checks the takeover whichever way the stop landed.

It runs in about a minute on 2 cores (hard limits: 150 s for the load, 300 s for the test).
PostgreSQL only: on SQLite one process owns the database file, so there is no scale-out to
test (`scripts/with-postgres` sets PODIUM_TEST_DATABASE_URL, as CI does).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import itertools
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.api.live import BIN, ROOT, LiveServer, create_admin, login, server_env
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

POSTGRES_URL = os.environ.get("PODIUM_TEST_DATABASE_URL")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not POSTGRES_URL,
        reason="scale-out chaos test: PostgreSQL only (PODIUM_TEST_DATABASE_URL; "
        "scripts/with-postgres sets it)",
    ),
]

SESSIONS = 200
DRIVERS = 24  # sessions driven at once
WORKERS = 3
SLOTS = 4  # per worker
LEASE = 3.0
KILL_EVERY = 4.0
LOAD_SECONDS = 150.0  # the load must be done by then
# Sessions start spread over this long, so that the load lasts for several kills however
# fast the machine runs them (all at once, a fast machine was done in ~10 s: one kill).
SPREAD_SECONDS = 24.0
NODES = ("start", "left", "right", "finish")  # the nodes making a recorded call

FLOW: dict[str, Any] = {
    "name": "chaos",
    "nodes": [
        {"id": "start", "type": "python", "config": {"function": "chaos_nodes:effect"}},
        {"id": "left", "type": "python", "config": {"function": "chaos_nodes:effect"}},
        {"id": "right", "type": "python", "config": {"function": "chaos_nodes:effect"}},
        {"id": "ask", "type": "human", "config": {"question": "Go on?", "output_key": "go"}},
        {"id": "finish", "type": "python", "config": {"function": "chaos_nodes:effect"}},
    ],
    "edges": [
        {"source": "start", "target": "left"},
        {"source": "start", "target": "right"},
        {"source": "start", "target": "ask"},
        {"source": "left", "target": "finish"},
        {"source": "right", "target": "finish"},
        {"source": "ask", "target": "finish"},
    ],
}

DISCONNECTED = (OSError, http.client.HTTPException)  # URLError, resets, refusals are OSErrors


# --- the side table: a counter outside Podium ------------------------------------------------


class SideCounter:
    """A loopback HTTP server counting recorded calls' side effects in a SQLite file: every
    attempt, and the effect applied once per idempotency key."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.executescript(
            "CREATE TABLE attempts (id INTEGER PRIMARY KEY, key TEXT NOT NULL, run_id TEXT "
            "NOT NULL, fence INTEGER NOT NULL, pid INTEGER NOT NULL, at REAL NOT NULL);"
            "CREATE TABLE effects (key TEXT PRIMARY KEY, attempt INTEGER NOT NULL);"
        )
        self.lock = threading.Lock()
        counter = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(random.uniform(0, 0.02))  # a window for a kill mid-call
                answer = json.dumps(counter.apply(body)).encode()
                # A worker killed meanwhile never reads the answer: the attempt counts all the
                # same (the effect was applied); its claim's replacement runs it again.
                with contextlib.suppress(ConnectionError):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/effect"

    def apply(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            cursor = self.db.execute(
                "INSERT INTO attempts (key, run_id, fence, pid, at) VALUES (?, ?, ?, ?, ?)",
                (body["key"], body["run_id"], body["fence"], body["pid"], time.time()),
            )
            attempt = cursor.lastrowid
            self.db.execute(
                "INSERT INTO effects (key, attempt) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (body["key"], attempt),
            )
            (applied,) = self.db.execute(
                "SELECT attempt FROM effects WHERE key = ?", (body["key"],)
            ).fetchone()
        # `attempt` and `fence` say which attempt this answer went to: the one whose answer is
        # recorded. `applied` is the attempt that applied the effect (the same for every repeat).
        return {"key": body["key"], "attempt": attempt, "fence": body["fence"], "applied": applied}

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.db.execute(sql).fetchall()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        self.db.close()


# --- processes ------------------------------------------------------------------------------


class WorkerProcess:
    """One `podium worker` process, started again after each kill."""

    def __init__(self, name: str, url: str, env: dict[str, str], logs: Path) -> None:
        self.name, self.url, self.env, self.logs = name, url, env, logs
        self.process: subprocess.Popen[bytes] | None = None
        self.log: Path | None = None
        self.starts = 0
        self.stopped = False  # SIGSTOPped

    def start(self) -> None:
        self.starts += 1
        self.log = self.logs / f"{self.name}-{self.starts}.log"
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [str(BIN / "podium"), "worker", "--db", self.url, "--concurrency", str(SLOTS)],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=ROOT,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        if self.process is not None:
            if self.stopped:
                self.process.send_signal(signal.SIGCONT)
                self.stopped = False
            self.process.kill()
            self.process.wait(timeout=30)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ready(self) -> bool:
        """Up and processing runs (it says so once started: imports and a migration check
        take a few seconds)."""
        if not self.alive() or self.log is None:
            return False
        return b"processing runs" in self.log.read_bytes()

    def output(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
            for log in sorted(self.logs.glob(f"{self.name}-*.log"))
        )


class Cluster:
    """The API processes: requests go round-robin to those up and move to another when the
    one they went to is down."""

    def __init__(self, servers: list[LiveServer], token: str) -> None:
        self.servers = servers
        self.token = token
        self.down: set[int] = set()
        self._turn = itertools.count()

    def up(self) -> list[LiveServer]:
        return [s for s in self.servers if s.port not in self.down]

    def pick(self, preferred: int = 0) -> LiveServer:
        up = self.up()
        assert up, "no API process is up"
        return up[(preferred + next(self._turn)) % len(up)]

    def once(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One try on one API process (a DISCONNECTED error when it is down)."""
        return self.pick().request(method, path, body, self.token)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """For idempotent requests: tried again (on another process) while disconnected."""
        for _ in range(50):
            try:
                return self.once(method, path, body)
            except DISCONNECTED:
                time.sleep(0.2)
        raise AssertionError(f"{method} {path}: no API process answered")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.request(method, path, body)
        assert 200 <= status < 300, f"{method} {path} -> {status} {answer}"
        return answer


# --- streaming clients ----------------------------------------------------------------------


class StreamClient(threading.Thread):
    """Follows the app's events from one API process, and from another when it drops,
    resuming after the last seq it saw. `seen`: the (seq, id, type) of every logged event."""

    transport = ""

    def __init__(self, name: str, cluster: Cluster, app_id: str, first: int) -> None:
        super().__init__(name=name, daemon=True)
        self.cluster, self.app_id, self.first = cluster, app_id, first
        self.seen: list[tuple[int, str, str]] = []
        self.live_only = 0
        self.connections: list[int] = []  # the port of each connection, in order
        self.done = threading.Event()
        self.error: BaseException | None = None

    @property
    def last(self) -> int:
        return self.seen[-1][0] if self.seen else 0

    @property
    def port(self) -> int | None:
        return self.connections[-1] if self.connections else None

    def take(self, envelope: dict[str, Any]) -> None:
        if envelope.get("seq") is None:
            self.live_only += 1  # node.started: live only, not in the log
        else:
            self.seen.append((envelope["seq"], envelope["id"], envelope["type"]))

    def run(self) -> None:
        turn = self.first
        try:
            while not self.done.is_set():
                up = self.cluster.up()
                server = up[turn % len(up)]
                self.connections.append(server.port)
                try:
                    self.follow(server)
                except (*DISCONNECTED, WebSocketException):
                    pass
                if not self.done.is_set():
                    turn += 1
                    time.sleep(0.2)
        except BaseException as exc:
            self.error = exc

    def follow(self, server: LiveServer) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        self.done.set()


class SseClient(StreamClient):
    transport = "sse"
    _connection: http.client.HTTPConnection | None = None

    def follow(self, server: LiveServer) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        self._connection = connection
        try:
            headers = {"Authorization": f"Bearer {self.cluster.token}"}
            headers["Accept"] = "text/event-stream"
            if self.seen:
                headers["Last-Event-ID"] = str(self.last)
            connection.request("GET", f"/api/v1/apps/{self.app_id}/events", headers=headers)
            reply = connection.getresponse()
            assert reply.status == 200, (reply.status, reply.read())
            data: list[str] = []
            while not self.done.is_set():
                raw = reply.readline()
                if not raw:
                    return  # the stream ended: reconnect
                line = raw.decode().rstrip("\r\n")
                if line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    self.take(json.loads("\n".join(data)))
                    data = []
        finally:
            self._connection = None
            connection.close()

    def finish(self) -> None:
        super().finish()
        connection = self._connection
        sock = connection.sock if connection is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # ends the blocked read


class WebSocketClient(StreamClient):
    transport = "ws"

    def follow(self, server: LiveServer) -> None:
        uri = f"ws://127.0.0.1:{server.port}/api/v1/ws"
        with connect(uri, open_timeout=10, close_timeout=2) as socket_:
            socket_.send(json.dumps({"type": "auth", "data": {"token": self.cluster.token}}))
            ready = json.loads(socket_.recv(timeout=10))
            assert ready["type"] == "connection.ready", ready
            subscribe = {"app_id": self.app_id, "since": self.last}
            socket_.send(json.dumps({"type": "subscribe", "id": 1, "data": subscribe}))
            while not self.done.is_set():
                try:
                    message = json.loads(socket_.recv(timeout=1))
                except TimeoutError:
                    continue
                if message["type"] == "event":
                    self.take(message["data"])
                else:
                    assert message["type"] == "subscribed", message


# --- the test -------------------------------------------------------------------------------


def pg(url: str, query: str, *args: Any) -> list[Any]:
    """One query on the database, from the test's side (asyncpg)."""
    import asyncpg

    from podium.storage.urls import asyncpg_dsn

    async def fetch() -> list[Any]:
        connection = await asyncpg.connect(asyncpg_dsn(url))
        try:
            return list(await connection.fetch(query, *args))
        finally:
            await connection.close()

    return asyncio.run(fetch())


def local_ports(pid: int) -> set[int]:
    """The local TCP ports of a process's sockets (/proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class Chaos(threading.Thread):
    """The faults, while the load runs: a worker SIGKILLed (and started again) every few
    seconds; one SIGSTOPped past its lease, then SIGCONTinued; one API process SIGKILLed while
    clients stream from it."""

    def __init__(
        self,
        url: str,
        app_id: str,
        workers: list[WorkerProcess],
        cluster: Cluster,
        clients: list[StreamClient],
        progress: Callable[[], float],
    ) -> None:
        super().__init__(name="chaos", daemon=True)
        self.url, self.app_id, self.workers = url, app_id, workers
        self.cluster, self.clients, self.progress = cluster, clients, progress
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.actions: list[str] = []  # what it did, when (written to chaos.log)
        self.kills = 0
        self.in_transaction_stops = 0
        self.busy_kills = 0  # kills of a worker that held runs
        self.stop_held: list[tuple[str, int]] = []  # (run, fence) held by the stopped worker
        self.resumed_at: float | None = None  # when it was SIGCONTinued (time.time())
        self.stopped_pid: int | None = None
        self.stopped_log: Path | None = None
        self.api_killed_streaming = 0  # clients streaming from the API process killed

    def note(self, text: str) -> None:
        self.actions.append(f"{time.time():.3f} {text}")

    def in_transaction(self, worker: WorkerProcess) -> bool:
        """Whether one of the worker's database connections is inside a transaction."""
        ports = local_ports(worker.pid)
        rows = pg(
            self.url,
            "SELECT count(*) AS n FROM pg_stat_activity WHERE client_port = ANY($1::int[]) "
            "AND state <> 'idle'",
            sorted(ports),
        )
        return bool(rows[0]["n"])

    def held_runs(self, worker: WorkerProcess) -> list[tuple[str, int]]:
        rows = pg(
            self.url,
            "SELECT id, fence FROM runs WHERE app_id = $1 AND status = 'running' "
            "AND worker_id LIKE $2",
            self.app_id,
            f"%:{worker.pid}:%",
        )
        return [(row["id"], row["fence"]) for row in rows]

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:
            self.error = exc

    def _run(self) -> None:
        next_kill = time.monotonic() + KILL_EVERY
        stopped: WorkerProcess | None = None
        resume_at = 0.0
        api_killed = False
        while not self.done.is_set():
            now = time.monotonic()
            progress = self.progress()
            # Workers that are up (started, not stopped). A fault leaves at least one other
            # up, so that someone sweeps the expired leases and takes the runs over.
            ready = [w for w in self.workers if w is not stopped and w.ready()]
            # The resumed worker is left alone a while: time to find its lease lost.
            shielded = [w for w in ready if self.resumed_at and time.time() < self.resumed_at + 5]
            shielded = [w for w in shielded if w.pid == self.stopped_pid]
            if stopped is None and self.resumed_at is None and progress >= 0.2 and len(ready) > 1:
                worker = random.choice(ready)
                worker.signal(signal.SIGSTOP)
                time.sleep(0.2)  # a statement it had sent is done by now
                held = self.held_runs(worker)  # stopped: what it holds stays as it is
                if held:
                    # Stopped in the middle of a transaction (most stops, under this load), it
                    # holds row locks, the app's row among them: PostgreSQL ends its session
                    # after half the lease (idle_in_transaction_session_timeout), so the
                    # others can write and take its runs over.
                    inside = self.in_transaction(worker)
                    self.in_transaction_stops += inside
                    where = " inside a transaction" if inside else ""
                    self.note(f"SIGSTOP {worker.name} pid {worker.pid}{where} holding {held}")
                    worker.stopped = True
                    stopped, self.stop_held = worker, held
                    self.stopped_pid, self.stopped_log = worker.pid, worker.log
                    resume_at = time.monotonic() + 2 * LEASE + 1
                else:  # it held nothing: that would show nothing, try again later
                    worker.signal(signal.SIGCONT)
            if stopped is not None and now >= resume_at:
                self.note(f"SIGCONT {stopped.name} pid {stopped.pid}")
                stopped.signal(signal.SIGCONT)
                stopped.stopped = False
                self.resumed_at = time.time()
                stopped = None
            if not api_killed and progress >= 0.45:
                victim = self.cluster.servers[0]
                streaming = [c for c in self.clients if c.port == victim.port]
                if streaming:
                    self.api_killed_streaming = len(streaming)
                    self.note(f"SIGKILL API {victim.port} under {len(streaming)} streams")
                    self.cluster.down.add(victim.port)
                    victim.stop(signal.SIGKILL)
                    api_killed = True
            if now >= next_kill and len(ready) > 1 and len(ready) > len(shielded):
                # A worker that holds runs, if one does: a crash in the middle of them.
                victims = [w for w in ready if w not in shielded]
                busy = [w for w in victims if self.held_runs(w)]
                worker = random.choice(busy or victims)
                self.note(f"SIGKILL {worker.name} pid {worker.pid} (holding runs: {bool(busy)})")
                worker.kill()
                worker.start()
                self.kills += 1
                self.busy_kills += bool(busy)
                next_kill = now + KILL_EVERY
            self.done.wait(0.1)
        if stopped is not None:  # the load ended first: let it go on all the same
            time.sleep(max(resume_at - time.monotonic(), 0))
            stopped.signal(signal.SIGCONT)
            stopped.stopped = False
            self.resumed_at = time.time()


def drive(
    cluster: Cluster, app_id: str, number: int, start_at: float, deadline: float
) -> dict[str, Any]:
    """One session, from `start_at` on: start it, answer its question, wait for its run to
    end. A request cut off by a killed API process is sent again to the other; a session
    start whose answer was lost is looked up by its metadata first, so that it is not
    started twice."""
    time.sleep(max(start_at - time.monotonic(), 0.0))
    base = f"/apps/{app_id}"
    client = f"chaos-{number:03d}"
    session: dict[str, Any] | None = None
    while session is None:
        try:
            status, answer = cluster.once(
                "POST",
                f"{base}/sessions",
                {"flow": "chaos", "input": {}, "metadata": {"client": client}},
            )
        except DISCONNECTED:
            session = find_session(cluster, app_id, client)
            continue
        assert status == 201, (status, answer)
        session = answer
    run_id = session["run_id"]
    answered: set[str] = set()
    while time.monotonic() < deadline:
        run = cluster.call("GET", f"{base}/runs/{run_id}/wait?timeout=10")
        if run["status"] in ("succeeded", "failed", "cancelled"):
            return {"session": session["id"], "run": run_id, "status": run["status"]}
        for question in run.get("pending_questions") or []:
            interrupt = question["interrupt_id"]
            if interrupt in answered:
                continue
            body = {"interrupt_id": interrupt, "answer": "yes"}
            for tries in itertools.count():
                assert time.monotonic() < deadline, f"no API process took the answer {body}"
                try:
                    status, answer = cluster.once(
                        "POST", f"{base}/sessions/{session['id']}/input", body
                    )
                except DISCONNECTED:
                    time.sleep(0.2)
                    continue
                # After a lost answer, 409 says the first one went through.
                assert status == 202 or (status == 409 and tries > 0), (status, answer)
                break
            answered.add(interrupt)
    raise AssertionError(f"session {session['id']} (run {run_id}) did not end in time")


def find_session(cluster: Cluster, app_id: str, client: str) -> dict[str, Any] | None:
    cursor = None
    while True:
        query = "?flow=chaos&limit=200"
        if cursor:
            query += "&cursor=" + urllib.parse.quote(cursor, safe="")
        page = cluster.call("GET", f"/apps/{app_id}/sessions{query}")
        for session in page["items"]:
            if (session["metadata"] or {}).get("client") == client:
                # A listed session leaves its run out: read it whole.
                return dict(cluster.call("GET", f"/apps/{app_id}/sessions/{session['id']}"))
        cursor = page["next_cursor"]
        if not cursor:
            return None


def read_log(cluster: Cluster, app_id: str) -> list[tuple[int, str, str]]:
    logged: list[tuple[int, str, str]] = []
    since = 0
    while True:
        page = cluster.call("GET", f"/apps/{app_id}/events?since={since}&limit=1000")
        logged += [(e["seq"], e["id"], e["type"]) for e in page["items"]]
        if not page["items"]:
            return logged
        since = page["next_since"]


def divergence(seen: list[tuple[int, str, str]], logged: list[tuple[int, str, str]]) -> str:
    """What differs between what a client saw and the log, in a few words."""
    seqs = [s for s, _, _ in seen]
    duplicates = [s for s, n in Counter(seqs).items() if n > 1]
    missing = sorted({s for s, _, _ in logged} - set(seqs))
    at = next((i for i, (a, b) in enumerate(zip(seen, logged, strict=False)) if a != b), None)
    return (
        f"saw {len(seen)} events, the log has {len(logged)}; duplicates {duplicates[:10]}, "
        f"missing {missing[:10]}, first difference at index {at}: "
        f"{seen[at] if at is not None else None} vs {logged[at] if at is not None else None}"
    )


@pytest.mark.timeout(300)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_chaos_on_postgresql(database_url: str, tmp_path: Path) -> None:
    url = database_url
    started = time.monotonic()
    counter = SideCounter(tmp_path / "side.db")
    env = server_env(
        PODIUM_LEASE_SECONDS=str(LEASE),
        PODIUM_POLL_SECONDS="0.5",
        PODIUM_DRAIN_SECONDS="2",
        PODIUM_APP_MAX_CONCURRENT_RUNS=str(WORKERS * SLOTS),
        PODIUM_API_PYTHON_MODULES="chaos_nodes",
        PYTHONPATH=str(ROOT / "tests" / "chaos"),
        CHAOS_COUNTER_URL=counter.url,
    )
    servers = [
        LiveServer(tmp_path / "api-a.db", env, database_url=url, args=("--workers", "0")),
        LiveServer(tmp_path / "api-b.db", env, database_url=url, args=("--workers", "0")),
    ]
    workers = [WorkerProcess(f"worker-{i}", url, env, tmp_path) for i in range(WORKERS)]
    clients: list[StreamClient] = []
    chaos: Chaos | None = None
    cluster: Cluster | None = None
    pool = ThreadPoolExecutor(max_workers=DRIVERS)
    try:
        create_admin(url, env)
        for server in servers:
            server.start(timeout=60)
        for worker in workers:
            worker.start()
        cluster = Cluster(servers, login(servers[1]))
        app_id = cluster.call("POST", "/apps", {"name": "chaos"})["id"]
        cluster.call("POST", f"/apps/{app_id}/flows", FLOW)

        clients = [
            SseClient("sse-0", cluster, app_id, first=0),
            SseClient("sse-1", cluster, app_id, first=1),
            SseClient("sse-2", cluster, app_id, first=0),
            WebSocketClient("ws-0", cluster, app_id, first=0),
            WebSocketClient("ws-1", cluster, app_id, first=1),
        ]
        for client in clients:
            client.start()
        up_by = time.monotonic() + 60
        while not all(w.ready() for w in workers):
            assert time.monotonic() < up_by, "\n".join(w.output() for w in workers)
            time.sleep(0.1)

        first = time.monotonic()
        deadline = first + LOAD_SECONDS
        futures = [
            pool.submit(drive, cluster, app_id, n, first + n * SPREAD_SECONDS / SESSIONS, deadline)
            for n in range(SESSIONS)
        ]
        chaos = Chaos(
            url,
            app_id,
            workers,
            cluster,
            clients,
            lambda: sum(f.done() for f in futures) / SESSIONS,
        )
        chaos.start()
        outcomes = [f.result(timeout=max(deadline - time.monotonic(), 0) + 30) for f in futures]
        load_seconds = time.monotonic() - started
        chaos.done.set()
        chaos.join(timeout=30)
        assert not chaos.is_alive(), "the fault injector did not stop"
        if chaos.error is not None:
            raise chaos.error

        # The faults happened, during the load.
        assert chaos.kills >= 2, f"only {chaos.kills} worker kills: the load was too short"
        assert chaos.busy_kills >= 1, "no worker was killed while it held runs"
        assert chaos.resumed_at is not None, "no worker holding runs was SIGSTOPped"
        assert chaos.api_killed_streaming > 0, "no API process was killed under a stream"

        # Every run succeeded; none is stuck.
        assert Counter(o["status"] for o in outcomes) == {"succeeded": SESSIONS}, outcomes
        statuses = pg(
            url, "SELECT status, count(*) AS n FROM runs WHERE app_id = $1 GROUP BY status", app_id
        )
        assert {row["status"]: row["n"] for row in statuses} == {"succeeded": SESSIONS}
        sessions = pg(
            url,
            "SELECT status, count(*) AS n FROM sessions WHERE app_id = $1 GROUP BY status",
            app_id,
        )
        assert {row["status"]: row["n"] for row in sessions} == {"completed": SESSIONS}
        for worker in workers:  # none died but those the test killed
            assert worker.alive(), worker.output()
        assert servers[1].process is not None and servers[1].process.poll() is None

        # Every recorded call ran exactly once: applied once per idempotency key, recorded
        # once in Podium, and never run again by a later claim once recorded.
        runs = {o["run"] for o in outcomes}
        expected = {f"{run}/{node}/0/effect" for run in runs for node in NODES}
        applied = {key for (key,) in counter.rows("SELECT key FROM effects")}
        assert applied == expected, (len(applied), len(expected))
        recorded = pg(
            url,
            "SELECT c.run_id, c.node_id, c.iteration, c.key, c.result FROM calls c "
            "JOIN runs r ON r.id = c.run_id WHERE r.app_id = $1 AND c.key = 'effect'",
            app_id,
        )
        results = {
            f"{row['run_id']}/{row['node_id']}/{row['iteration']}/effect": json.loads(row["result"])
            for row in recorded
        }
        assert len(recorded) == len(results) and set(results) == expected
        attempts: dict[str, list[tuple[int, int, int, float]]] = {}
        for key, attempt, fence, pid, at in counter.rows(
            "SELECT key, id, fence, pid, at FROM attempts ORDER BY id"
        ):
            attempts.setdefault(key, []).append((attempt, fence, pid, at))
        effects = dict(counter.rows("SELECT key, attempt FROM effects"))
        for key, result in results.items():
            fences = [fence for _, fence, _, _ in attempts[key]]
            assert result["applied"] == effects[key], (key, result, effects[key])
            assert fences.count(result["fence"]) == 1, (key, result, attempts[key])
            assert max(fences) == result["fence"], (
                f"call {key} ran again after its result was recorded",
                result,
                attempts[key],
            )
        # The sessions' states hold the recorded results.
        for outcome in outcomes[:20]:
            state = cluster.call("GET", f"/apps/{app_id}/sessions/{outcome['session']}")["state"]
            for node in NODES:
                assert state[node] == results[f"{outcome['run']}/{node}/0/effect"]
            assert state["go"] == "yes"

        # The SIGSTOPped worker's runs were taken over: queued again when its lease expired
        # and claimed by another worker (a later fence).
        fences = dict(
            (row["id"], row["fence"])
            for row in pg(url, "SELECT id, fence FROM runs WHERE app_id = $1", app_id)
        )
        for run, fence in chaos.stop_held:
            page = cluster.call("GET", f"/apps/{app_id}/events?run_id={run}&limit=1000")
            reasons = [e["data"].get("reason") for e in page["items"] if e["type"] == "run.queued"]
            assert "lease_expired" in reasons and fences[run] > fence, (run, fence, page)
        # Resumed, the stopped worker found its lease lost (its heartbeat, fenced by the
        # claim's fence, was refused) and stopped executing those runs: its writes changed
        # nothing (the exactly-once checks above and the event checks below hold).
        said = chaos.stopped_log.read_text() if chaos.stopped_log else ""
        for run, _ in chaos.stop_held:
            assert f"run {run} stopped on this worker" in said, (run, said[-3000:])

        # Every client saw every logged event once, in order.
        logged = read_log(cluster, app_id)
        assert [s for s, _, _ in logged] == sorted({s for s, _, _ in logged})
        final = logged[-1][0]
        wait_until = time.monotonic() + 60
        while any(c.last < final and c.is_alive() for c in clients):
            assert time.monotonic() < wait_until, [(c.name, c.last, final) for c in clients]
            time.sleep(0.1)
        for client in clients:
            client.finish()
            client.join(timeout=15)
            assert not client.is_alive(), f"{client.name} did not stop"
            if client.error is not None:
                raise client.error
            assert client.seen == logged, f"{client.name}: {divergence(client.seen, logged)}"
        victim = servers[0].port
        assert any(c.connections[0] == victim and len(c.connections) > 1 for c in clients), (
            "no client moved off the killed API process"
        )

        repeated = sum(len(a) > 1 for a in attempts.values())
        zombie = sum(
            1
            for a in attempts.values()
            for _, _, pid, at in a
            if pid == chaos.stopped_pid and at >= chaos.resumed_at - 0.5
        )
        print(
            f"\nchaos: {SESSIONS} sessions, {len(logged)} events, load {load_seconds:.1f} s, "
            f"total {time.monotonic() - started:.1f} s; {chaos.kills} worker kills "
            f"({chaos.busy_kills} holding runs), "
            f"{len(chaos.stop_held)} runs held by the SIGSTOPped worker "
            f"({'inside' if chaos.in_transaction_stops else 'outside'} a transaction), "
            f"{chaos.api_killed_streaming} clients on the killed API process; "
            f"{repeated} calls attempted more than once (absorbed by their key), "
            f"{zombie} attempts by the resumed worker; reconnects "
            + ", ".join(f"{c.name} {len(c.connections) - 1}" for c in clients)
        )
    finally:
        if cluster is not None:  # the drivers still running give up at once
            cluster.down.update(s.port for s in servers)
        if chaos is not None:
            chaos.done.set()
            chaos.join(timeout=30)
            (tmp_path / "chaos.log").write_text("\n".join(chaos.actions) + "\n")
        for client in clients:
            client.finish()
        pool.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            with contextlib.suppress(Exception):
                worker.kill()
        for server in servers:
            if server.process is not None:
                with contextlib.suppress(Exception):
                    server.stop(signal.SIGKILL)
        for client in clients:
            client.join(timeout=15)
        counter.close()
