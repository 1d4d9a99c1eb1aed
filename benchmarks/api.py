"""Podium's HTTP API next to LangGraph's local server (`langgraph dev`), both live on loopback.

    .venv/bin/python benchmarks/api.py                  # both servers, full size
    .venv/bin/python benchmarks/api.py --quick          # small counts: a smoke test
    .venv/bin/python benchmarks/api.py --no-langgraph   # Podium only (langgraph fields null)

Each server runs as a subprocess on 127.0.0.1 (a free port), one after the other, never both
at once: Podium is ``podium serve --workers N --db <fresh SQLite file>`` (every step committed
before the next starts); LangGraph is ``langgraph dev --no-browser --no-reload`` over
``benchmarks/langgraph_app/graphs.py`` (its in-memory runtime, as installed by
``langgraph-cli[inmem]``). The client is this process, with keep-alive connections
(``benchmarks/http_client.py``: httpx's client costs too much CPU here to measure a server
with). Every workload uses a chain of 10 trivial nodes (Podium: ``template`` nodes writing
``"x"`` under their own name; LangGraph: functions doing the same):

* H1  200 sequential "create a session (thread) and run it to the end": p50 / p95 ms;
* H2  100 concurrent clients, each doing that 5 times: runs/s over the whole batch;
* H3  200 sessions paused at a question (a ``human`` node / ``interrupt()`` before the chain),
  then answered one after the other: p50 / p95 ms from sending the answer until the run ended;
* H4  time from starting a run to the first streamed event of it, with the stream open
  (Podium: one SSE stream ``GET /apps/{id}/events`` open throughout; LangGraph: the SSE answer
  of ``POST /threads/{id}/runs/stream``), and to the first node's result;
* RSS  the server's resident set (its process tree, psutil) idle and with the H3 sessions
  waiting, sampled as they pause (H3 runs first, on a server that has done nothing but a
  warm-up), and at the end (``rss_end_mib``, after every session of every workload).

Prints one JSON object per metric on stdout::

    {"workload", "metric", "podium", "langgraph", "ratio", "target", "met", "n"}

``ratio`` is podium / langgraph (for latencies and memory below 1 is better for Podium).
Targets: H1 and H3 p50 < 30 ms, H4 < 20 ms, H2 >= 10x LangGraph, RSS flat (growth with every
H3 session waiting at most 5 % of the idle figure); ``met`` is null with ``--quick`` (its
counts are a smoke test, not the workloads). Without ``langgraph-cli[inmem]`` (or with
``--no-langgraph``) the langgraph fields are null. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import itertools
import json
import math
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.http_client import Client, HttpError, Stream  # noqa: E402

HOST = "127.0.0.1"
HERE = Path(__file__).resolve().parent
GRAPHS = HERE / "langgraph_app" / "graphs.py"
NODES = [f"n{i}" for i in range(10)]
CHAIN, ASK = "bench_chain", "bench_ask"
ANSWER = "yes"
WAIT_TRIES = 5  # `GET .../wait?timeout=30` calls before a run counts as stuck
RSS_FLAT = 0.05  # "flat": growth with every H3 session waiting <= 5 % of the idle RSS


@dataclass(frozen=True)
class Sizes:
    h1_runs: int = 200
    h2_clients: int = 100
    h2_runs_per_client: int = 5
    h3_sessions: int = 200
    h4_runs: int = 50
    warmup: int = 5

    @property
    def sessions(self) -> int:
        """Sessions one server sees: warm-up (+1 paused), H3, H1, H2, H4 (+1 discarded)."""
        h2 = self.h2_clients * self.h2_runs_per_client
        return self.warmup + 1 + self.h3_sessions + self.h1_runs + h2 + self.h4_runs + 1


FULL = Sizes()
QUICK = Sizes(h1_runs=10, h2_clients=10, h2_runs_per_client=1, h3_sessions=10, h4_runs=5, warmup=2)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _load() -> float:
    """The 1-minute load average (other jobs on the machine disturb the figures)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan


def ms(seconds: float) -> float:
    return seconds * 1000.0


def percentile(values: Sequence[float], q: int) -> float:
    """The q-th percentile (inclusive method; the value itself for a single sample)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


# --------------------------------------------------------------------------- servers


@dataclass
class Server:
    """A server subprocess; `stop()` ends it and whatever it started."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def tree(self) -> list[Any]:
        try:
            import psutil
        except ImportError:
            return []
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

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

    async def _get(self, path: str) -> int:
        async with Client(HOST, self.port, timeout=2.0) as http:
            return (await http.request("GET", path)).status

    def stop(self) -> None:
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


def start_podium(workdir: Path, workers: int, password: str) -> Server:
    podium = venv_binary("podium")
    if podium is None:
        raise RuntimeError("no `podium` command: run `make venv` first")
    home = workdir / "podium"
    home.mkdir(parents=True, exist_ok=True)
    db = home / "podium.db"
    env = {
        **os.environ,
        "PODIUM_SECRET_KEY": secrets.token_hex(32),
        "PODIUM_RATE_LIMIT": "100000/minute",
        "PODIUM_ACCESS_TOKEN_MINUTES": "240",
    }
    admin = [podium, "users", "create-admin", "--email", "a@example.com", "--username", "admin"]
    done = subprocess.run(
        [*admin, "--password", password, "--db", str(db)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"podium users create-admin failed:\n{done.stdout}{done.stderr}")
    port = free_port()
    cmd = [podium, "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)]
    server = spawn("podium", [*cmd, "--db", str(db)], home, env, port)
    server.wait_ready("/api/v1/health")
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

    def __init__(self, server: Server, password: str) -> None:
        self.server = server
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
            run: dict[str, Any] = await http.fetch("GET", url, params={"timeout": 30})
            status = run["status"]
            if status == want:
                return run
            if status in ("failed", "cancelled") or (status == "succeeded" and want != status):
                raise RuntimeError(f"run {run_id} {status}: {json.dumps(run)[:500]}")
            if status == "interrupted":  # an answer not yet taken up: should not happen
                await asyncio.sleep(0.005)
        raise RuntimeError(f"run {run_id} still {status} after {WAIT_TRIES} waits")

    async def run_chain(self, http: Client) -> str:
        started = await self._start(http, CHAIN)
        assert started.run_id
        await self._wait(http, started.run_id, "succeeded")
        return started.id

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
        thread = await self._thread(http)
        body = {"assistant_id": "chain", "input": {}}
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


# --------------------------------------------------------------------------- workloads


@dataclass
class Figures:
    metrics: dict[str, float | None] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    rss_series: list[tuple[int, float]] = field(default_factory=list)


class Progress:
    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.step = label, total, max(1, total // 5)
        self.started = time.perf_counter()

    def tick(self, done: int) -> None:
        if done % self.step == 0 or done == self.total:
            elapsed = time.perf_counter() - self.started
            log(f"  {self.label}: {done}/{self.total} ({elapsed:.1f}s)")


async def warm_up(peer: Peer, runs: int) -> None:
    async with peer.client() as http:
        for _ in range(runs):
            await peer.run_chain(http)
        paused = await peer.question(http, await peer.pause(http))
        await peer.answer(http, paused)


async def h1_sequential(peer: Peer, runs: int, figures: Figures) -> None:
    latencies: list[float] = []
    progress = Progress(f"{peer.name} H1", runs)
    async with peer.client() as http:
        session = ""
        for i in range(runs):
            started = time.perf_counter()
            session = await peer.run_chain(http)
            latencies.append(ms(time.perf_counter() - started))
            progress.tick(i + 1)
        await peer.check(http, session, answered=False)
    figures.metrics["latency_p50_ms"] = percentile(latencies, 50)
    figures.metrics["latency_p95_ms"] = percentile(latencies, 95)
    figures.counts["H1"] = runs


async def h2_concurrent(peer: Peer, clients: int, per_client: int, figures: Figures) -> None:
    log(f"  {peer.name} H2: {clients} clients x {per_client} runs")
    async with peer.client(connections=clients) as http:
        sessions: list[str] = []

        async def one_client() -> None:
            for _ in range(per_client):
                sessions.append(await peer.run_chain(http))

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        seconds = time.perf_counter() - started
        await peer.check(http, sessions[-1], answered=False)
    runs = clients * per_client
    log(f"  {peer.name} H2: {runs} runs in {seconds:.2f}s")
    figures.metrics["runs_per_s"] = runs / seconds
    figures.counts["H2"] = runs


async def h3_pause_answer(peer: Peer, sessions: int, figures: Figures) -> None:
    """Pause every session (sampling RSS as they pile up), then answer each in turn."""
    await asyncio.sleep(1.0)  # let the warm-up settle before the idle figure
    samples = sorted({0, sessions // 4, sessions // 2, 3 * sessions // 4, sessions})
    pauses: list[float] = []
    answers: list[float] = []
    waiting: list[Paused] = []
    progress = Progress(f"{peer.name} H3 pause", sessions)
    async with peer.client() as http:
        for i in range(sessions + 1):
            if i in samples:
                rss = peer.server.rss_mib()
                if rss is not None:
                    figures.rss_series.append((i, rss))
            if i == sessions:
                break
            started = time.perf_counter()
            paused = await peer.pause(http)
            pauses.append(ms(time.perf_counter() - started))
            waiting.append(await peer.question(http, paused))
            progress.tick(i + 1)
        progress = Progress(f"{peer.name} H3 answer", sessions)
        for i, paused in enumerate(waiting):
            started = time.perf_counter()
            await peer.answer(http, paused)
            answers.append(ms(time.perf_counter() - started))
            progress.tick(i + 1)
        await peer.check(http, waiting[-1].id, answered=True)
    figures.metrics["pause_p50_ms"] = percentile(pauses, 50)
    figures.metrics["answer_p50_ms"] = percentile(answers, 50)
    figures.metrics["answer_p95_ms"] = percentile(answers, 95)
    figures.counts["H3"] = sessions
    if figures.rss_series:
        idle, full = figures.rss_series[0][1], figures.rss_series[-1][1]
        figures.metrics["rss_idle_mib"] = idle
        figures.metrics["rss_waiting_mib"] = full
        figures.metrics["rss_kib_per_waiting_session"] = (full - idle) * 1024 / sessions
        figures.counts["RSS"] = sessions


async def h4_first_event(peer: Peer, runs: int, figures: Figures) -> None:
    log(f"  {peer.name} H4: {runs} runs")
    async with peer.client(connections=2) as http:
        samples = await peer.first_events(http, runs)
    figures.metrics["first_event_ms"] = percentile([s[0] for s in samples], 50)
    figures.metrics["first_node_result_ms"] = percentile([s[1] for s in samples], 50)
    figures.counts["H4"] = runs


async def measure(peer: Peer, sizes: Sizes) -> Figures:
    figures = Figures()
    await peer.setup()
    await warm_up(peer, sizes.warmup)
    await h3_pause_answer(peer, sizes.h3_sessions, figures)  # first: RSS from a quiet server
    await h1_sequential(peer, sizes.h1_runs, figures)
    await h2_concurrent(peer, sizes.h2_clients, sizes.h2_runs_per_client, figures)
    await h4_first_event(peer, sizes.h4_runs, figures)
    await asyncio.sleep(1.0)
    figures.metrics["rss_end_mib"] = peer.server.rss_mib()
    figures.counts["sessions"] = sizes.sessions
    shown = ", ".join(f"{k}={v:,.1f}" for k, v in figures.metrics.items() if v is not None)
    log(f"{peer.name}: {shown} (load average now {_load():.2f})")
    return figures


def run_podium(workdir: Path, sizes: Sizes, workers: int) -> Figures:
    password = secrets.token_urlsafe(16)
    log(f"podium: starting `podium serve --workers {workers}` on a fresh SQLite file")
    server = start_podium(workdir, workers, password)
    try:
        return asyncio.run(measure(PodiumPeer(server, password), sizes))
    except Exception:  # not on Ctrl-C / SIGTERM
        log(f"podium server log (last lines):\n{server.log_tail()}")
        raise
    finally:
        server.stop()


def run_langgraph(workdir: Path, sizes: Sizes, binary: str, jobs: int | None) -> Figures:
    log("langgraph: starting `langgraph dev` (in-memory runtime)")
    server = start_langgraph(workdir, binary, jobs)
    try:
        return asyncio.run(measure(LangGraphPeer(server), sizes))
    except Exception:  # not on Ctrl-C / SIGTERM
        log(f"langgraph server log (last lines):\n{server.log_tail()}")
        raise
    finally:
        server.stop()


# --------------------------------------------------------------------------- report


def _below(limit: float) -> Callable[[float, float | None], bool | None]:
    return lambda podium, langgraph: podium < limit


def _times(factor: float) -> Callable[[float, float | None], bool | None]:
    return lambda podium, langgraph: None if not langgraph else podium / langgraph >= factor


def _flat(figures: Figures) -> Callable[[float, float | None], bool | None]:
    idle = figures.metrics.get("rss_idle_mib")
    return lambda podium, langgraph: None if idle is None else podium - idle <= RSS_FLAT * idle


def rows(podium: Figures, langgraph: Figures | None, judge: bool = True) -> list[dict[str, Any]]:
    """One line per metric; `met` is null without a target or when not `judge` (--quick)."""
    checks: list[tuple[str, str, str | None, Callable[[float, float | None], bool | None]]] = [
        ("H1", "latency_p50_ms", "< 30 ms", _below(30.0)),
        ("H1", "latency_p95_ms", None, lambda p, lg: None),
        ("H2", "runs_per_s", ">= 10x langgraph", _times(10.0)),
        ("H3", "pause_p50_ms", None, lambda p, lg: None),
        ("H3", "answer_p50_ms", "< 30 ms", _below(30.0)),
        ("H3", "answer_p95_ms", None, lambda p, lg: None),
        ("H4", "first_event_ms", "< 20 ms", _below(20.0)),
        ("H4", "first_node_result_ms", None, lambda p, lg: None),
        ("RSS", "rss_idle_mib", None, lambda p, lg: None),
        ("RSS", "rss_waiting_mib", f"<= idle + {RSS_FLAT:.0%} (flat)", _flat(podium)),
        ("RSS", "rss_kib_per_waiting_session", None, lambda p, lg: None),
        ("RSS", "rss_end_mib", None, lambda p, lg: None),
    ]
    out = []
    for workload, metric, target, met in checks:
        mine = podium.metrics.get(metric)
        if mine is None:
            continue
        theirs = langgraph.metrics.get(metric) if langgraph else None
        row: dict[str, Any] = {
            "workload": workload,
            "metric": metric,
            "podium": round(mine, 2),
            "langgraph": None if theirs is None else round(theirs, 2),
            "ratio": None if not theirs else float(f"{mine / theirs:.3g}"),
            "target": target,
            "met": met(mine, theirs) if target and judge else None,
            "n": podium.counts.get("sessions" if metric == "rss_end_mib" else workload),
        }
        if metric == "rss_waiting_mib":
            row["podium_series"] = [[n, round(v, 1)] for n, v in podium.rss_series]
            row["langgraph_series"] = (
                [[n, round(v, 1)] for n, v in langgraph.rss_series] if langgraph else None
            )
        out.append(row)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small counts (a smoke test)")
    parser.add_argument(
        "--no-langgraph", action="store_true", help="Podium only (langgraph fields null)"
    )
    parser.add_argument("--workers", type=int, default=16, help="`podium serve --workers N` (16)")
    parser.add_argument(
        "--langgraph-jobs",
        type=int,
        help="`langgraph dev --n-jobs-per-worker N` (default: langgraph dev's own, 1)",
    )
    parser.add_argument(
        "--langgraph-bin",
        metavar="PATH",
        help="the `langgraph` command to run (e.g. another virtualenv's; default: .venv's)",
    )
    parser.add_argument("--workdir", type=Path, help="keep the databases and server logs here")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    # SIGTERM unwinds like Ctrl-C, so the `finally` blocks stop the servers.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    log(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {_load():.2f}"
        f"{', quick' if args.quick else ''}"
    )
    with tempfile.TemporaryDirectory(prefix="podium_api_bench_") as tmp:
        workdir = args.workdir or Path(tmp)
        started = time.perf_counter()
        podium = run_podium(workdir, sizes, args.workers)
        langgraph = None
        binary, missing = (
            (None, "--no-langgraph") if args.no_langgraph else find_langgraph(args.langgraph_bin)
        )
        if binary is None:
            log(f"langgraph: skipped ({missing}); its fields are null")
        else:
            langgraph = run_langgraph(workdir, sizes, binary, args.langgraph_jobs)
        log(f"done in {time.perf_counter() - started:.1f}s")
    for row in rows(podium, langgraph, judge=not args.quick):
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
