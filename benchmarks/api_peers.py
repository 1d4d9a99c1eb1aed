"""The two servers of `api.py` and how the benchmark drives each over HTTP.

`Server` is a live server subprocess on loopback; `PodiumPeer` and `LangGraphPeer` speak
each one's API (start a run, wait for it, pause and answer, stream); `api.py` runs the same
workloads through either.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import itertools
import json
import math
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.http_client import Client, HttpError, Stream

HOST = "127.0.0.1"
HERE = Path(__file__).resolve().parent
GRAPHS = HERE / "langgraph_app" / "graphs.py"
NODES = [f"n{i}" for i in range(10)]
CHAIN, ASK = "bench_chain", "bench_ask"
ANSWER = "yes"
WAIT_TRIES = 5  # `GET .../wait?timeout=30` calls before a run counts as stuck
WAIT_SECONDS = 30  # Podium's `?wait=` and `?timeout=`


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_average() -> float:
    """The 1-minute load average (other jobs on the machine disturb the figures)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan


def ms(seconds: float) -> float:
    return seconds * 1000.0


@dataclass
class Server:
    """A server subprocess; `stop()` ends it and whatever it started."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    # Processes started beside the server (`podium worker`), measured and stopped with it.
    others: list[Server] = field(default_factory=list)

    def tree(self) -> list[Any]:
        try:
            import psutil
        except ImportError:
            return []
        procs = []
        for process in (self.process, *(other.process for other in self.others)):
            try:
                root = psutil.Process(process.pid)
                procs += [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
        return procs

    def cpu_seconds(self) -> float | None:
        """User + system CPU used so far by the server's processes (None without psutil)."""
        procs = self.tree()
        if not procs:
            return None
        total = 0.0
        for proc in procs:
            with contextlib.suppress(Exception):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def rss_mib(self) -> float | None:
        """Resident set of the server and its children, MiB (None without psutil)."""
        procs = self.tree()
        if not procs:
            return None
        total = 0
        for proc in procs:
            with contextlib.suppress(Exception):
                total += proc.memory_info().rss
        return total / 2**20

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, path: str, seconds: float = 120.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError, HttpError, asyncio.IncompleteReadError):
                if asyncio.run(self._get(path)) == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer {path} in {seconds:.0f}s")

    def wait_log(self, text: str, seconds: float = 120.0) -> None:
        """Until `text` is in the process's output (a process that serves no HTTP)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError):
                if text in self.log_path.read_text(errors="replace"):
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not say {text!r} in {seconds:.0f}s")

    async def _get(self, path: str) -> int:
        async with Client(HOST, self.port, timeout=2.0) as http:
            return (await http.request("GET", path)).status

    def stop(self) -> None:
        for other in self.others:
            other.stop()
        self.others = []
        children = self.tree()[1:]
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for child in children:
            with contextlib.suppress(Exception):
                if child.is_running():
                    child.kill()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def venv_binary(name: str) -> str | None:
    """The console script next to this interpreter (the project's .venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def spawn(name: str, cmd: list[str], cwd: Path, env: dict[str, str], port: int) -> Server:
    log_path = cwd / f"{name}.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches this script, which then stops it
        )
    return Server(name, process, port, log_path)


def start_podium(
    workdir: Path,
    workers: int,
    password: str,
    *,
    database_url: str | None = None,
    processes: int = 1,
    worker_processes: int = 0,
) -> Server:
    """`podium serve` on a fresh SQLite file in `workdir`, or on `database_url` (a fresh
    PostgreSQL database or SQLite file) with `processes` API processes; with
    `worker_processes`, that many `podium worker --concurrency <workers>` processes run the
    steps and the API processes have no worker slots of their own (`--workers 0`)."""
    podium = venv_binary("podium")
    if podium is None:
        raise RuntimeError("no `podium` command: run `make venv` first")
    tag = "podium" if database_url is None else f"podium-{processes}p-{worker_processes}w"
    home = workdir / tag
    home.mkdir(parents=True, exist_ok=True)
    db = database_url or str(home / "podium.db")
    slots = workers * (worker_processes or processes)
    env = {
        **os.environ,
        "PODIUM_SECRET_KEY": secrets.token_hex(32),
        "PODIUM_RATE_LIMIT": "100000/minute",
        "PODIUM_ACCESS_TOKEN_MINUTES": "240",
        # One app runs every workload: it may use every slot (the default per-app cap of half
        # the slots is a multi-tenant policy, not an engine cost). The cap holds across
        # processes, so it is every process's slots.
        "PODIUM_APP_MAX_CONCURRENT_RUNS": os.environ.get(
            "PODIUM_APP_MAX_CONCURRENT_RUNS", str(slots)
        ),
    }
    admin = [podium, "users", "create-admin", "--email", "a@example.com", "--username", "admin"]
    done = subprocess.run(
        [*admin, "--password", password, "--db", db],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"podium users create-admin failed:\n{done.stdout}{done.stderr}")
    port = free_port()
    serve_slots = 0 if worker_processes else workers
    cmd = [podium, "serve", "--host", HOST, "--port", str(port), "--workers", str(serve_slots)]
    if processes > 1:
        cmd += ["--processes", str(processes)]
    server = spawn("podium", [*cmd, "--db", db], home, env, port)
    try:
        for i in range(worker_processes):
            cmd = [podium, "worker", "--concurrency", str(workers), "--db", db]
            server.others.append(spawn(f"worker{i}", cmd, home, env, 0))
        server.wait_ready("/api/v1/health")
        for other in server.others:
            other.wait_log("processing runs")
    except BaseException:
        server.stop()
        raise
    return server


def find_langgraph(given: str | None) -> tuple[str | None, str]:
    """The `langgraph` command to run, or None and why there is none.

    A command given explicitly (another virtualenv's) is trusted; the default one, beside this
    interpreter or on PATH, needs `langgraph-cli[inmem]` importable here.
    """
    if given:  # absolute: the server runs in a directory of its own
        path = Path(given).resolve()
        return (str(path), "") if path.exists() else (None, f"{given} does not exist")
    for module in ("langgraph_cli", "langgraph_api", "langgraph_runtime_inmem"):
        if importlib.util.find_spec(module) is None:
            return None, f'{module} is not installed (pip install "langgraph-cli[inmem]")'
    binary = venv_binary("langgraph")
    return (binary, "") if binary else (None, "no `langgraph` command")


def start_langgraph(workdir: Path, binary: str, jobs: int | None) -> Server:
    home = workdir / "langgraph"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "langgraph.json"
    graphs = {"chain": f"{GRAPHS}:chain", "ask": f"{GRAPHS}:ask"}
    config.write_text(json.dumps({"dependencies": ["."], "graphs": graphs}, indent=2))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH_", "LANGCHAIN_"))}
    env.update(
        LANGSMITH_TRACING="false",
        LANGCHAIN_TRACING_V2="false",
        LANGGRAPH_CLI_NO_ANALYTICS="1",
    )
    port = free_port()
    cmd = [binary, "dev", "--no-browser", "--no-reload", "--host", HOST, "--port", str(port)]
    cmd += ["--config", str(config)]
    if jobs is not None:
        cmd += ["--n-jobs-per-worker", str(jobs)]
    server = spawn("langgraph", cmd, home, env, port)
    server.wait_ready("/ok")
    return server


# --------------------------------------------------------------------------- SSE


@dataclass
class SseEvent:
    at: float  # perf_counter() when the event's blank line arrived
    name: str
    data: str

    def json(self) -> Any:
        return json.loads(self.data) if self.data else None


async def sse_events(response: Stream, sink: Callable[[SseEvent], None]) -> None:
    """Parse a text/event-stream body, handing each complete event to `sink` as it arrives."""
    name, rest = "", b""
    data: list[str] = []
    async for chunk in response.chunks():
        at = time.perf_counter()
        *lines, rest = (rest + chunk).split(b"\n")
        for raw in lines:
            line = raw.removesuffix(b"\r").decode()
            if not line:
                if data:
                    sink(SseEvent(at, name or "message", "\n".join(data)))
                name, data = "", []
            elif line.startswith(":"):
                continue  # a comment (keep-alive ping)
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif line.startswith("event:"):
                name = line[6:].strip()


# --------------------------------------------------------------------------- the two APIs


@dataclass
class Paused:
    id: str  # session / thread
    run_id: str | None = None
    interrupt_id: str | None = None


class Peer(ABC):
    """One server's API, driven the same way for every workload."""

    name: str
    server: Server
    headers: dict[str, str]
    # CPU seconds of the database server so far (PostgreSQL), None when not measured.
    db_cpu: Callable[[], float | None] = staticmethod(lambda: None)

    def client(self, connections: int = 1) -> Client:
        return Client(HOST, self.server.port, headers=self.headers, connections=connections)

    async def setup(self) -> None:  # noqa: B027 (optional hook)
        """Log in, register the graphs: whatever comes before the clock starts."""

    @abstractmethod
    async def run_chain(self, http: Client) -> str:
        """Create a session and run the chain to its end; returns the session's id."""

    @abstractmethod
    async def pause(self, http: Client) -> Paused:
        """Create a session of the question flow and wait until it waits for the answer."""

    @abstractmethod
    async def question(self, http: Client, paused: Paused) -> Paused:
        """What the answer needs (outside the clock)."""

    @abstractmethod
    async def answer(self, http: Client, paused: Paused) -> None:
        """Answer the question and wait until the run ended."""

    @abstractmethod
    async def first_events(self, http: Client, runs: int) -> list[tuple[float, float]]:
        """Per run (after one discarded): ms to its first streamed event, to a node's result."""

    @abstractmethod
    async def check(self, http: Client, session: str, answered: bool) -> None:
        """The session's final state holds every node's output (outside the clock)."""


def check_values(values: Any, answered: bool, where: str) -> None:
    expected = {name: "x" for name in NODES} | ({"answer": ANSWER} if answered else {})
    got = {k: values.get(k) for k in expected} if isinstance(values, dict) else values
    if got != expected:
        raise RuntimeError(f"{where}: unexpected state {values!r}")


class PodiumPeer(Peer):
    name = "podium"

    def __init__(
        self, server: Server, password: str, db_cpu: Callable[[], float | None] | None = None
    ) -> None:
        self.server = server
        if db_cpu is not None:
            self.db_cpu = db_cpu
        self.password = password
        self.headers = {}
        self.app = ""
        self.stream_app = ""

    async def setup(self) -> None:
        async with self.client() as http:
            login = {"identifier": "admin", "password": self.password}
            token = (await http.fetch("POST", "/api/v1/auth/login", json=login))["access_token"]
            self.headers = {"Authorization": f"Bearer {token}"}
            http.headers.update(self.headers)
            apps = []
            for name in ("bench", "bench-stream"):  # H4 gets an app of its own: seq from 0
                app_id = (await http.fetch("POST", "/api/v1/apps", json={"name": name}))["id"]
                for flow in (chain_flow(), ask_flow()):
                    await http.fetch("POST", f"/api/v1/apps/{app_id}/flows", json=flow)
                apps.append(f"/api/v1/apps/{app_id}")
            self.app, self.stream_app = apps

    async def _start(self, http: Client, flow: str, app: str = "") -> Paused:
        body = {"flow": flow, "input": {}}
        session = await http.fetch("POST", f"{app or self.app}/sessions", json=body)
        return Paused(session["id"], session["run_id"])

    async def _wait(self, http: Client, run_id: str, want: str) -> dict[str, Any]:
        url = f"{self.app}/runs/{run_id}/wait"
        status = "?"
        for _ in range(WAIT_TRIES):
            run: dict[str, Any] = await http.fetch("GET", url, params={"timeout": WAIT_SECONDS})
            status = run["status"]
            if status == want:
                return run
            if status in ("failed", "cancelled") or (status == "succeeded" and want != status):
                raise RuntimeError(f"run {run_id} {status}: {json.dumps(run)[:500]}")
            if status == "interrupted":  # an answer not yet taken up: should not happen
                await asyncio.sleep(0.005)
        raise RuntimeError(f"run {run_id} still {status} after {WAIT_TRIES} waits")

    async def run_chain(self, http: Client) -> str:
        # One request: the session comes back once its run has ended (`?wait=`).
        body = {"flow": CHAIN, "input": {}}
        session = await http.fetch(
            "POST", f"{self.app}/sessions", json=body, params={"wait": WAIT_SECONDS}
        )
        if session["run_status"] != "succeeded":  # not within the wait: wait on
            await self._wait(http, session["run_id"], "succeeded")
        return str(session["id"])

    async def pause(self, http: Client) -> Paused:
        started = await self._start(http, ASK)
        assert started.run_id
        await self._wait(http, started.run_id, "interrupted")
        return started

    async def question(self, http: Client, paused: Paused) -> Paused:
        session = await http.fetch("GET", f"{self.app}/sessions/{paused.id}")
        pending = session.get("pending_question")
        if not pending:
            raise RuntimeError(f"session {paused.id} has no pending question: {session}")
        return Paused(paused.id, paused.run_id, pending["interrupt_id"])

    async def answer(self, http: Client, paused: Paused) -> None:
        body = {"interrupt_id": paused.interrupt_id, "answer": ANSWER}
        answered = await http.fetch("POST", f"{self.app}/sessions/{paused.id}/input", json=body)
        run_id = (answered or {}).get("run_id") or paused.run_id
        await self._wait(http, run_id, "succeeded")

    async def first_events(self, http: Client, runs: int) -> list[tuple[float, float]]:
        queue: asyncio.Queue[SseEvent] = asyncio.Queue()
        headers = {"Accept": "text/event-stream"}
        out: list[tuple[float, float]] = []
        url = f"{self.stream_app}/events"
        async with http.stream("GET", url, params={"since": 0}, headers=headers) as response:
            if response.status != 200:
                raise HttpError(f"GET {url} -> {response.status}: {await response.read()!r}")
            reader = asyncio.create_task(sse_events(response, queue.put_nowait))
            try:
                for i in range(runs + 1):  # the first one also proves the stream is live
                    started = time.perf_counter()
                    session = await self._start(http, CHAIN, self.stream_app)
                    first, node = await self._follow(queue, session.id, reader)
                    if i:
                        out.append((ms(first - started), ms(node - started)))
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
        return out

    @staticmethod
    async def _follow(
        queue: asyncio.Queue[SseEvent], session_id: str, reader: asyncio.Task[None]
    ) -> tuple[float, float]:
        """Arrival times of the session's first event and first node.completed; until its end."""
        first = node = None
        for _ in range(1000):  # a run of this flow has ~25 events
            if reader.done():
                reader.result()
                raise RuntimeError("the event stream ended")
            event = await asyncio.wait_for(queue.get(), 60)
            data = event.json()
            if not isinstance(data, dict) or data.get("session_id") != session_id:
                continue
            kind = data.get("type") or event.name
            first = first or event.at
            if kind == "node.completed" and node is None:
                node = event.at
            if kind.startswith("run.") and kind not in ("run.queued", "run.started"):
                if kind != "run.succeeded" or node is None:
                    raise RuntimeError(f"session {session_id}: {kind} (node events: {node})")
                return first, node
        raise RuntimeError(f"session {session_id}: no end in 1000 events")

    async def check(self, http: Client, session: str, answered: bool) -> None:
        state = (await http.fetch("GET", f"{self.app}/sessions/{session}")).get("state")
        check_values(state, answered, f"podium session {session}")


class LangGraphPeer(Peer):
    name = "langgraph"

    def __init__(self, server: Server) -> None:
        self.server = server
        self.headers = {}

    @staticmethod
    async def _thread(http: Client) -> str:
        thread_id: str = (await http.fetch("POST", "/threads", json={}))["thread_id"]
        return thread_id

    async def run_chain(self, http: Client) -> str:
        # One request: the thread is created by its first run (`if_not_exists`).
        thread = str(uuid.uuid4())
        body = {"assistant_id": "chain", "input": {}, "if_not_exists": "create"}
        values = await http.fetch("POST", f"/threads/{thread}/runs/wait", json=body)
        check_values(values, False, f"langgraph thread {thread}")
        return thread

    async def pause(self, http: Client) -> Paused:
        thread = await self._thread(http)
        body = {"assistant_id": "ask", "input": {}}
        values = await http.fetch("POST", f"/threads/{thread}/runs/wait", json=body)
        if not values or "__interrupt__" not in values:
            raise RuntimeError(f"langgraph thread {thread} did not pause: {values!r}")
        return Paused(thread)

    async def question(self, http: Client, paused: Paused) -> Paused:
        return paused  # resuming a thread needs no id

    async def answer(self, http: Client, paused: Paused) -> None:
        body = {"assistant_id": "ask", "command": {"resume": ANSWER}}
        values = await http.fetch("POST", f"/threads/{paused.id}/runs/wait", json=body)
        check_values(values, True, f"langgraph thread {paused.id}")

    async def first_events(self, http: Client, runs: int) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        body = {"assistant_id": "chain", "input": {}, "stream_mode": ["updates"]}
        for i in range(runs + 1):
            thread = await self._thread(http)  # before the clock: Podium's start creates both
            events: list[SseEvent] = []
            started = time.perf_counter()
            url = f"/threads/{thread}/runs/stream"
            async with http.stream("POST", url, json=body) as response:
                if response.status != 200:
                    raise HttpError(f"POST {url} -> {response.status}: {await response.read()!r}")
                await sse_events(response, events.append)
            updates = [e for e in events if e.name == "updates"]
            if not events or len(updates) != len(NODES) or any(e.name == "error" for e in events):
                raise RuntimeError(f"langgraph stream of {thread}: {[e.name for e in events]}")
            if i:
                out.append((ms(events[0].at - started), ms(updates[0].at - started)))
        return out

    async def check(self, http: Client, session: str, answered: bool) -> None:
        state = await http.fetch("GET", f"/threads/{session}/state")
        check_values(state.get("values"), answered, f"langgraph thread {session}")


def chain_nodes() -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    nodes = [
        {"id": name, "type": "template", "config": {"template": "x", "output_key": name}}
        for name in NODES
    ]
    edges = [{"source": a, "target": b} for a, b in itertools.pairwise(NODES)]
    return nodes, edges


def chain_flow() -> dict[str, Any]:
    nodes, edges = chain_nodes()
    return {"name": CHAIN, "nodes": nodes, "edges": edges}


def ask_flow() -> dict[str, Any]:
    nodes, edges = chain_nodes()
    ask = {"id": "ask", "type": "human", "config": {"question": "Go?", "output_key": "answer"}}
    return {
        "name": ASK,
        "nodes": [ask, *nodes],
        "edges": [{"source": "ask", "target": NODES[0]}, *edges],
    }
