"""Podium's HTTP API next to LangGraph's local server (`langgraph dev`), both live on loopback.

    .venv/bin/python benchmarks/api.py                  # both servers, full size
    .venv/bin/python benchmarks/api.py --quick          # small counts: a smoke test
    .venv/bin/python benchmarks/api.py --no-langgraph   # Podium only (langgraph fields null)
    scripts/with-postgres sh -c 'python benchmarks/api.py --pg "$PODIUM_TEST_DATABASE_URL"'

Each server runs as a subprocess on 127.0.0.1 (a free port), one after the other, never both
at once: Podium is ``podium serve --workers N --db <fresh SQLite file>`` (every step committed
before the next starts); LangGraph is ``langgraph dev --no-browser --no-reload`` over
``benchmarks/langgraph_app/graphs.py`` (its in-memory runtime, as installed by
``langgraph-cli[inmem]``). The client is this process, with keep-alive connections
(``benchmarks/http_client.py``: httpx's client costs too much CPU here to measure a server
with). Every workload uses a chain of 10 trivial nodes (Podium: ``template`` nodes writing
``"x"`` under their own name; LangGraph: functions doing the same):

* H1  200 sequential "create a session (thread) and run it to the end", one request each
  (Podium: ``POST /sessions?wait=30``; LangGraph: ``POST /threads/{new id}/runs/wait`` with
  ``if_not_exists: "create"``): p50 / p95 ms;
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

With ``--pg URL`` H2 also runs on PostgreSQL with several processes, on a fresh database per
layout (``--layout P[+W]``: ``podium serve --processes P``, and with ``+W`` that many ``podium
worker`` processes running the steps while the API processes have ``--workers 0``); one more
H2 line per layout (``"layout"``). H2 also runs on SQLite with one ``podium serve --workers 0``
process and ``podium worker`` processes on the same file (``--sqlite-layout 1+W``, default
``1+1``; the processes find each other's commits by watching the file). Every H2 line has the
CPU per run of the server's processes, of PostgreSQL (``db_cpu``) and of this client, measured
apart (psutil).

``ratio`` is podium / langgraph (for latencies and memory below 1 is better for Podium).
Targets: H1 and H3 p50 < 30 ms, H4 < 20 ms, H2 >= 10x LangGraph, RSS flat (growth with every
H3 session waiting at most 5 % of the idle figure); ``met`` is null with ``--quick`` (its
counts are a smoke test, not the workloads). Without ``langgraph-cli[inmem]`` (or with
``--no-langgraph``) the langgraph fields are null. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.api_peers import (  # noqa: E402
    LangGraphPeer,
    Paused,
    Peer,
    PodiumPeer,
    find_langgraph,
    load_average,
    log,
    ms,
    start_langgraph,
    start_podium,
)
from benchmarks.pg import FreshPostgres, PostgresCpu  # noqa: E402

# H2 on PostgreSQL (--pg): API processes, + `podium worker` processes (see `Layout`).
DEFAULT_LAYOUTS = ("1", "2", "3", "1+1", "1+2", "2+2")
QUICK_LAYOUTS = ("2", "1+1")
# H2 on SQLite with worker processes (one machine, one file): one API process + W workers.
SQLITE_LAYOUTS = ("1+1",)
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


def percentile(values: Sequence[float], q: int) -> float:
    """The q-th percentile (inclusive method; the value itself for a single sample)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


# --------------------------------------------------------------------------- servers


# --------------------------------------------------------------------------- workloads


@dataclass
class Figures:
    metrics: dict[str, float | None] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    rss_series: list[tuple[int, float]] = field(default_factory=list)
    cpu: dict[str, float | None] = field(default_factory=dict)  # H2's, per run


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


def _cpu(before: float | None, after: float | None, runs: int) -> float | None:
    return None if before is None or after is None else ms(after - before) / runs


async def h2_concurrent(
    peer: Peer, clients: int, per_client: int, figures: Figures, repeat: int = 1
) -> None:
    """H2 `repeat` times; the best throughput is kept, with the CPU it took per run: the
    server's processes, the database server's (PostgreSQL) and this client's."""
    for attempt in range(repeat):
        log(f"  {peer.name} H2: {clients} clients x {per_client} runs")
        async with peer.client(connections=clients) as http:
            sessions: list[str] = []

            async def one_client(sessions: list[str]) -> None:
                for _ in range(per_client):
                    sessions.append(await peer.run_chain(http))

            server, db, client = peer.server.cpu_seconds(), peer.db_cpu(), time.process_time()
            started = time.perf_counter()
            await asyncio.gather(*(one_client(sessions) for _ in range(clients)))
            seconds = time.perf_counter() - started
            cpu = {
                "server_cpu_ms_per_run": _cpu(server, peer.server.cpu_seconds(), len(sessions)),
                "db_cpu_ms_per_run": _cpu(db, peer.db_cpu(), len(sessions)),
                "client_cpu_ms_per_run": _cpu(client, time.process_time(), len(sessions)),
            }
            await peer.check(http, sessions[-1], answered=False)
        runs = clients * per_client
        shown = ", ".join(f"{k.split('_')[0]} {v:.2f}" for k, v in cpu.items() if v is not None)
        log(f"  {peer.name} H2: {runs} runs in {seconds:.2f}s; CPU ms per run: {shown}")
        if runs / seconds > (figures.metrics.get("runs_per_s") or 0.0):
            figures.metrics["runs_per_s"] = runs / seconds
            figures.cpu = cpu
        if attempt + 1 < repeat:
            await asyncio.sleep(1.0)
    figures.counts["H2"] = clients * per_client


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


async def measure(peer: Peer, sizes: Sizes, repeat: int = 1) -> Figures:
    figures = Figures()
    await peer.setup()
    await warm_up(peer, sizes.warmup)
    await h3_pause_answer(peer, sizes.h3_sessions, figures)  # first: RSS from a quiet server
    await h1_sequential(peer, sizes.h1_runs, figures)
    await h2_concurrent(peer, sizes.h2_clients, sizes.h2_runs_per_client, figures, repeat)
    await h4_first_event(peer, sizes.h4_runs, figures)
    await asyncio.sleep(1.0)
    figures.metrics["rss_end_mib"] = peer.server.rss_mib()
    figures.counts["sessions"] = sizes.sessions
    shown = ", ".join(f"{k}={v:,.1f}" for k, v in figures.metrics.items() if v is not None)
    log(f"{peer.name}: {shown} (load average now {load_average():.2f})")
    return figures


def run_podium(workdir: Path, sizes: Sizes, workers: int, repeat: int = 1) -> Figures:
    password = secrets.token_urlsafe(16)
    log(f"podium: starting `podium serve --workers {workers}` on a fresh SQLite file")
    server = start_podium(workdir, workers, password)
    try:
        return asyncio.run(measure(PodiumPeer(server, password), sizes, repeat))
    except Exception:  # not on Ctrl-C / SIGTERM
        log(f"podium server log (last lines):\n{server.log_tail()}")
        raise
    finally:
        server.stop()


@dataclass(frozen=True)
class Layout:
    """Podium's processes: `processes` API processes (`serve --processes`),
    and `worker_processes` `podium worker` processes running the steps (then the API
    processes have no slots of their own); written `P` or `P+W` (`2`, `1+2`)."""

    processes: int
    worker_processes: int = 0

    @classmethod
    def parse(cls, text: str) -> Layout:
        api, _, workers = text.partition("+")
        layout = cls(int(api), int(workers or 0))
        if layout.processes < 1 or layout.worker_processes < 0:
            raise ValueError(f"bad layout {text!r}")
        return layout

    def describe(self, workers: int) -> str:
        api = f"serve --processes {self.processes}"
        if self.worker_processes:
            return f"{api} --workers 0 + {self.worker_processes} x podium worker ({workers} slots)"
        return f"{api} ({workers} slots each)"

    def __str__(self) -> str:
        return (
            f"{self.processes}+{self.worker_processes}"
            if self.worker_processes
            else str(self.processes)
        )


async def measure_h2(peer: Peer, sizes: Sizes, repeat: int) -> Figures:
    figures = Figures()
    await peer.setup()
    await warm_up(peer, sizes.warmup)
    await h2_concurrent(peer, sizes.h2_clients, sizes.h2_runs_per_client, figures, repeat)
    log(f"{peer.name}: H2 {figures.metrics['runs_per_s']:,.1f} runs/s (load {load_average():.2f})")
    return figures


def run_podium_postgres(
    url: str, layout: Layout, sizes: Sizes, workers: int, repeat: int = 1
) -> Figures:
    """H2 (after the warm-up) on a fresh PostgreSQL database with several processes."""
    log(f"podium: {layout.describe(workers)} on a fresh PostgreSQL database")
    db_cpu = PostgresCpu(url)
    with tempfile.TemporaryDirectory(prefix="podium_api_pg_") as tmp, FreshPostgres(url) as pg:
        return _h2_layout(Path(tmp), pg.url, layout, sizes, workers, repeat, db_cpu.seconds)


def run_podium_sqlite(
    workdir: Path, layout: Layout, sizes: Sizes, workers: int, repeat: int = 1
) -> Figures:
    """H2 (after the warm-up) on a fresh SQLite file shared by an API process and
    `podium worker` processes (they find each other's commits by watching the file)."""
    log(f"podium: {layout.describe(workers)} on a fresh SQLite file")
    home = workdir / f"sqlite-{layout}"
    home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{home / 'podium.db'}"
    return _h2_layout(home, url, layout, sizes, workers, repeat, None)


def _h2_layout(
    home: Path,
    url: str,
    layout: Layout,
    sizes: Sizes,
    workers: int,
    repeat: int,
    db_cpu: Callable[[], float | None] | None,
) -> Figures:
    password = secrets.token_urlsafe(16)
    server = start_podium(
        home,
        workers,
        password,
        database_url=url,
        processes=layout.processes,
        worker_processes=layout.worker_processes,
    )
    try:
        peer = PodiumPeer(server, password, db_cpu=db_cpu)
        return asyncio.run(measure_h2(peer, sizes, repeat))
    except Exception:  # not on Ctrl-C / SIGTERM
        for one in (server, *server.others):
            log(f"{one.name} log (last lines):\n{one.log_tail()}")
        raise
    finally:
        server.stop()


def run_langgraph(
    workdir: Path, sizes: Sizes, binary: str, jobs: int | None, repeat: int = 1
) -> Figures:
    log("langgraph: starting `langgraph dev` (in-memory runtime)")
    server = start_langgraph(workdir, binary, jobs)
    try:
        return asyncio.run(measure(LangGraphPeer(server), sizes, repeat))
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
        if metric == "runs_per_s":
            row["layout"] = "sqlite, serve (1 process)"
            row.update(_cpu_fields(podium, langgraph))
        if metric == "rss_waiting_mib":
            row["podium_series"] = [[n, round(v, 1)] for n, v in podium.rss_series]
            row["langgraph_series"] = (
                [[n, round(v, 1)] for n, v in langgraph.rss_series] if langgraph else None
            )
        out.append(row)
    return out


def _cpu_fields(podium: Figures, langgraph: Figures | None) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for side, figures in (("podium", podium), ("langgraph", langgraph)):
        for key in ("server_cpu_ms_per_run", "db_cpu_ms_per_run", "client_cpu_ms_per_run"):
            value = figures.cpu.get(key) if figures else None
            out[f"{side}_{key}"] = None if value is None else round(value, 2)
    return out


def layout_rows(
    measured: list[tuple[str, Figures]], langgraph: Figures | None, judge: bool = True
) -> list[dict[str, Any]]:
    """H2 with several processes, one line per layout (labelled with its database)."""
    out = []
    theirs = langgraph.metrics.get("runs_per_s") if langgraph else None
    for label, figures in measured:
        mine = figures.metrics["runs_per_s"]
        out.append(
            {
                "workload": "H2",
                "metric": "runs_per_s",
                "podium": round(mine, 2),
                "langgraph": None if theirs is None else round(theirs, 2),
                "ratio": None if not theirs else float(f"{mine / theirs:.3g}"),
                "target": ">= 10x langgraph",
                "met": _times(10.0)(mine, theirs) if judge else None,
                "n": figures.counts.get("H2"),
                "layout": label,
                **_cpu_fields(figures, langgraph),
            }
        )
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
    parser.add_argument(
        "--pg",
        metavar="URL",
        help="also H2 on PostgreSQL with several processes (a fresh database per layout)",
    )
    parser.add_argument(
        "--layout",
        action="append",
        metavar="P[+W]",
        help="with --pg: P API processes (`serve --processes P`), + W `podium worker` "
        f"processes (the API ones then have no slots); repeatable (default: "
        f"{' '.join(DEFAULT_LAYOUTS)}; --quick: {' '.join(QUICK_LAYOUTS)})",
    )
    parser.add_argument(
        "--sqlite-layout",
        action="append",
        metavar="1+W",
        help="H2 on SQLite with one API process (`serve --workers 0`) and W `podium worker` "
        f"processes on the same file; repeatable (default: {' '.join(SQLITE_LAYOUTS)}; "
        "`none` for none)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run H2 N times per server, report the best"
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    try:
        layouts = [
            Layout.parse(text)
            for text in args.layout or (QUICK_LAYOUTS if args.quick else DEFAULT_LAYOUTS)
        ]
        wanted = args.sqlite_layout or list(SQLITE_LAYOUTS)
        sqlite_layouts = [Layout.parse(text) for text in wanted if text != "none"]
    except ValueError as exc:
        parser.error(str(exc))
    for layout in sqlite_layouts:
        if layout.processes != 1 or layout.worker_processes < 1:
            parser.error(f"--sqlite-layout {layout}: SQLite takes one API process + W >= 1 workers")
    # SIGTERM unwinds like Ctrl-C, so the `finally` blocks stop the servers.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    log(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {load_average():.2f}"
        f"{', quick' if args.quick else ''}"
    )
    with tempfile.TemporaryDirectory(prefix="podium_api_bench_") as tmp:
        workdir = args.workdir or Path(tmp)
        started = time.perf_counter()
        podium = run_podium(workdir, sizes, args.workers, args.repeat)
        measured: list[tuple[str, Figures]] = []
        for layout in sqlite_layouts:
            figures = run_podium_sqlite(workdir, layout, sizes, args.workers, args.repeat)
            measured.append((f"sqlite, {layout.describe(args.workers)}", figures))
        for layout in layouts if args.pg else []:
            figures = run_podium_postgres(args.pg, layout, sizes, args.workers, args.repeat)
            measured.append((f"postgresql, {layout.describe(args.workers)}", figures))
        langgraph = None
        binary, missing = (
            (None, "--no-langgraph") if args.no_langgraph else find_langgraph(args.langgraph_bin)
        )
        if binary is None:
            log(f"langgraph: skipped ({missing}); its fields are null")
        else:
            langgraph = run_langgraph(workdir, sizes, binary, args.langgraph_jobs, args.repeat)
        log(f"done in {time.perf_counter() - started:.1f}s")
    for row in rows(podium, langgraph, judge=not args.quick):
        print(json.dumps(row), flush=True)
    for row in layout_rows(measured, langgraph, judge=not args.quick):
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
