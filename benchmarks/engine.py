"""Podium next to LangGraph on the same machine, in one process run (`make bench`).

    python benchmarks/engine.py              # every workload, full size
    python benchmarks/engine.py --quick      # small counts: a smoke test
    python benchmarks/engine.py --workload W1 --workload W4
    scripts/with-postgres sh -c 'python benchmarks/engine.py --pg "$PODIUM_TEST_DATABASE_URL"'

Workloads (trivial nodes that append their name to a list in state, every step durable on
a SQLite file):

* W1  a chain of 10 nodes x 200 sequential runs (start one, wait for it, start the next);
* W1-full  W1 with ``PODIUM_SQLITE_SYNCHRONOUS=full`` (an fsync per commit, as LangGraph's
  ``SqliteSaver`` leaves it); compared with the same LangGraph W1 figures;
* W2  fan-out 1 -> 8 -> 1 x 200 sequential runs;
* W3  500 sessions that each pause at a human question, then all answered: two lines,
  ``pauses_per_s`` and ``resumes_per_s``;
* W4  100 chain runs started at once (Podium: ``--workers`` in-process worker slots, 16 by
  default; LangGraph: ``asyncio.gather`` of ``ainvoke`` over one ``AsyncSqliteSaver``);
* W5  Podium only, on PostgreSQL (``--pg URL``; skipped without it): 400 chain runs started
  at once and executed by 1, 2 and 4 ``podium worker`` processes (``--workers`` slots each),
  one line per number of processes and metric (``runs_per_s``, ``node_steps_per_s``), with
  the CPU per run of the workers, of PostgreSQL and of this process
  (``benchmarks/scaleout.py``).

W1 and W2 run one worker slot and start the next run once the previous one ended, like
LangGraph's sequential ``invoke``. W3 starts all sessions at once and ``--workers`` slots
execute them (LangGraph invokes each thread in turn); ``--w3-sequential`` runs Podium's W3
one session at a time on one slot instead.

Prints one JSON object per workload (and metric) on stdout::

    {"workload", "metric", "podium", "langgraph", "ratio", "podium_db_bytes_per_run",
     "langgraph_db_bytes_per_run", "podium_peak_rss_kib"}

``ratio`` is podium / langgraph. With ``--repeat N`` every workload runs N times on each
engine and the best throughput is reported (on a shared machine the best of a few runs is the
one least disturbed by other processes); bytes per run are the same on every repetition.
LangGraph runs with ``durability="sync"`` (see ``benchmarks/langgraph_peer.py``); when
``langgraph`` and ``langgraph-checkpoint-sqlite`` are not installed (the ``bench`` extra),
the ``langgraph`` and ``ratio`` fields are null.

All Podium workloads run first, then LangGraph's, so that the Podium RSS figures do not
include LangGraph's modules. ``podium_peak_rss_kib`` is this process's resident-set
high-water mark during the workload (Linux ``VmHWM``, reset before each workload through
``/proc/self/clear_refs``; elsewhere the process peak from ``getrusage``). Progress goes to
stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "src") not in sys.path:  # a checkout without `pip install -e .`
    sys.path.append(str(ROOT / "src"))

from benchmarks import podium_workloads as pw  # noqa: E402

from podium.config import Settings  # noqa: E402

WORKLOADS = ("W1", "W1-full", "W2", "W3", "W4", "W5")


@dataclass(frozen=True)
class Sizes:
    w1_runs: int = 200
    w1_nodes: int = 10
    w2_runs: int = 200
    w2_width: int = 8
    w3_sessions: int = 500
    w4_runs: int = 100
    w4_nodes: int = 10
    w5_runs: int = 400
    w5_processes: tuple[int, ...] = (1, 2, 4)


FULL = Sizes()
QUICK = Sizes(w1_runs=20, w2_runs=20, w3_sessions=50, w4_runs=20, w5_runs=40, w5_processes=(1, 2))


@dataclass
class Figures:
    metrics: dict[str, float]
    db_bytes_per_run: float
    peak_rss_kib: int | None = None


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- peak RSS


def _vm_hwm() -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@contextlib.contextmanager
def peak_rss() -> Iterator[list[int]]:
    """Yields a list that holds, afterwards, the peak RSS (KiB) seen inside the block."""
    box: list[int] = []
    gc.collect()
    reset = _reset_hwm()
    try:
        yield box
    finally:
        hwm = _vm_hwm() if reset else None
        if hwm is None:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            hwm = peak // 1024 if sys.platform == "darwin" else peak
        box.append(hwm)


# --------------------------------------------------------------------------- Podium


def _best(figures: Figures | None, new: Figures) -> Figures:
    """Per metric the higher throughput of two repetitions."""
    if figures is None:
        return new
    metrics = {k: max(v, new.metrics[k]) for k, v in figures.metrics.items()}
    peaks = [p for p in (figures.peak_rss_kib, new.peak_rss_kib) if p is not None]
    return Figures(metrics, new.db_bytes_per_run, max(peaks) if peaks else None)


def podium_figures(
    names: Sequence[str],
    workdir: Path,
    sizes: Sizes,
    settings: Settings,
    workers: int,
    repeat: int = 1,
    w3_sequential: bool = False,
) -> dict[str, Figures]:
    full = settings.model_copy(update={"sqlite_synchronous": "full"})
    jobs: dict[str, Callable[[], pw.Result]] = {
        "W1": lambda: pw.w1_chain(workdir, settings, sizes.w1_runs, sizes.w1_nodes),
        "W1-full": lambda: pw.w1_chain(workdir, full, sizes.w1_runs, sizes.w1_nodes, "_full"),
        "W2": lambda: pw.w2_fanout(workdir, settings, sizes.w2_runs, sizes.w2_width),
        "W3": lambda: pw.w3_pause_resume(
            workdir, settings, sizes.w3_sessions, workers, sequential=w3_sequential
        ),
        "W4": lambda: pw.w4_concurrent(workdir, settings, sizes.w4_runs, sizes.w4_nodes, workers),
    }
    out: dict[str, Figures] = {}
    for name in names:
        best: Figures | None = None
        for _ in range(repeat):
            with peak_rss() as rss:
                result = jobs[name]()
            metrics = result.extra or {"node_steps_per_s": result.node_steps_per_s}
            best = _best(best, Figures(metrics, result.db_bytes_per_run, rss[0]))
            log(
                f"podium    {name:8} {_show(metrics)} {result.db_bytes_per_run:,.0f} B/run "
                f"peak RSS {rss[0]:,} KiB ({result.seconds:.2f}s)"
            )
        assert best is not None
        out[name] = best
    return out


# --------------------------------------------------------------------------- LangGraph


def langgraph_figures(
    names: Sequence[str], workdir: Path, sizes: Sizes, repeat: int = 1
) -> dict[str, Figures]:
    """LangGraph's figures, or {} when the `bench` extra is not installed."""
    try:
        from benchmarks import langgraph_peer as lg
    except ImportError as exc:
        log(f"langgraph is not installed ({exc}); its columns are null")
        return {}
    jobs: dict[str, Callable[[], dict[str, float]]] = {
        "W1": lambda: lg.w1_chain(workdir, sizes.w1_runs, sizes.w1_nodes),
        "W2": lambda: lg.w2_fanout(workdir, sizes.w2_runs, sizes.w2_width),
        "W3": lambda: lg.w3_pause_resume(workdir, sizes.w3_sessions),
        "W4": lambda: lg.w4_concurrent(workdir, sizes.w4_runs, sizes.w4_nodes),
    }
    out: dict[str, Figures] = {}
    for name in dict.fromkeys("W1" if n == "W1-full" else n for n in names):
        best: Figures | None = None
        for _ in range(repeat):
            with peak_rss() as rss:
                raw = jobs[name]()
            metrics = {k: v for k, v in raw.items() if k.endswith("_per_s")}
            best = _best(best, Figures(metrics, raw["db_bytes_per_run"], rss[0]))
            log(
                f"langgraph {name:8} {_show(metrics)} {raw['db_bytes_per_run']:,.0f} B/run "
                f"peak RSS {rss[0]:,} KiB ({raw['seconds']:.2f}s)"
            )
        assert best is not None
        out[name] = best
    if "W1" in out:
        out["W1-full"] = out["W1"]  # SqliteSaver already runs with synchronous=FULL
    return out


def _show(metrics: dict[str, float]) -> str:
    return " ".join(f"{k}={v:,.0f}" for k, v in metrics.items())


# --------------------------------------------------------------------------- report


def rows(
    names: Sequence[str], podium: dict[str, Figures], langgraph: dict[str, Figures]
) -> list[dict[str, Any]]:
    out = []
    for name in names:
        mine, theirs = podium[name], langgraph.get(name)
        for metric, value in mine.metrics.items():
            other = theirs.metrics.get(metric) if theirs else None
            out.append(
                {
                    "workload": name,
                    "metric": metric,
                    "podium": round(value, 1),
                    "langgraph": None if other is None else round(other, 1),
                    "ratio": None if not other else round(value / other, 2),
                    "podium_db_bytes_per_run": round(mine.db_bytes_per_run),
                    "langgraph_db_bytes_per_run": (
                        None if theirs is None else round(theirs.db_bytes_per_run)
                    ),
                    "podium_peak_rss_kib": mine.peak_rss_kib,
                }
            )
    return out


def w5_rows(
    pg_url: str, workdir: Path, sizes: Sizes, settings: Settings, workers: int, repeat: int
) -> list[dict[str, Any]]:
    """W5 on PostgreSQL: one line per number of `podium worker` processes and metric."""
    from benchmarks import scaleout

    out = []
    for processes in sizes.w5_processes:
        best: scaleout.ScaleResult | None = None
        for _ in range(repeat):
            result = scaleout.w5_worker_processes(
                pg_url, workdir, settings, processes, sizes.w5_runs, sizes.w4_nodes, workers
            )
            cpu = ", ".join(
                f"{name} {value:.2f}"
                for name, value in (
                    ("workers", result.worker_cpu_ms_per_run),
                    ("postgresql", result.db_cpu_ms_per_run),
                    ("client", result.client_cpu_ms_per_run),
                )
                if value is not None
            )
            log(
                f"podium    W5 x{processes:<5} runs_per_s={result.runs_per_s:,.0f} "
                f"node_steps_per_s={result.node_steps_per_s:,.0f} CPU ms/run: {cpu} "
                f"({result.seconds:.2f}s)"
            )
            if best is None or result.runs_per_s > best.runs_per_s:
                best = result
        assert best is not None
        for metric, value in (
            ("runs_per_s", best.runs_per_s),
            ("node_steps_per_s", best.node_steps_per_s),
        ):
            out.append(
                {
                    "workload": "W5",
                    "metric": metric,
                    "worker_processes": processes,
                    "slots_per_process": workers,
                    "podium": round(value, 1),
                    "langgraph": None,
                    "ratio": None,
                    "worker_cpu_ms_per_run": _round(best.worker_cpu_ms_per_run),
                    "db_cpu_ms_per_run": _round(best.db_cpu_ms_per_run),
                    "client_cpu_ms_per_run": _round(best.client_cpu_ms_per_run),
                    "runs": best.runs,
                }
            )
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small counts (a smoke test)")
    parser.add_argument(
        "--workload",
        action="append",
        choices=WORKLOADS,
        metavar="NAME",
        help=f"run only these ({', '.join(WORKLOADS)}); repeatable",
    )
    parser.add_argument("--workdir", type=Path, help="keep the SQLite files here")
    parser.add_argument(
        "--workers", type=int, default=16, help="Podium worker slots for W3 and W4 (16)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each workload N times, report the best"
    )
    parser.add_argument(
        "--w3-sequential",
        action="store_true",
        help="Podium W3 one session at a time on one worker, as LangGraph does it",
    )
    parser.add_argument(
        "--no-langgraph", action="store_true", help="Podium only (langgraph columns null)"
    )
    parser.add_argument(
        "--pg",
        metavar="URL",
        help="PostgreSQL server for W5 (a fresh database per measurement; without it W5 is "
        "skipped)",
    )
    args = parser.parse_args(argv)

    names = [n for n in WORKLOADS if not args.workload or n in args.workload]
    w5 = "W5" in names
    names = [n for n in names if n != "W5"]
    if w5 and not args.pg:
        log("W5 skipped: it needs PostgreSQL (--pg URL; `make bench` starts one)")
    sizes = QUICK if args.quick else FULL
    settings = Settings()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    log(
        f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, {os.cpu_count()} "
        f"CPUs, load {load:.2f}; podium sqlite_synchronous={settings.sqlite_synchronous}, "
        f"W3/W4 workers={args.workers}, repeat={args.repeat}{', quick' if args.quick else ''}"
    )
    with tempfile.TemporaryDirectory(prefix="podium_bench_") as tmp:
        workdir = args.workdir or Path(tmp)
        started = time.perf_counter()
        podium = podium_figures(
            names, workdir, sizes, settings, args.workers, args.repeat, args.w3_sequential
        )
        scale = (
            w5_rows(args.pg, workdir, sizes, settings, args.workers, args.repeat)
            if w5 and args.pg
            else []
        )
        langgraph = (
            {} if args.no_langgraph else langgraph_figures(names, workdir, sizes, args.repeat)
        )
        log(f"done in {time.perf_counter() - started:.1f}s")
    for row in rows(names, podium, langgraph):
        print(json.dumps(row), flush=True)
    for row in scale:
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
