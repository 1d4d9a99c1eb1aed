"""W5 of `benchmarks/engine.py`: `podium worker` processes on one PostgreSQL database.

For each number of worker processes (1, 2, 4 by default) a fresh database gets the chain
flow of W1/W4 (10 nodes, `benchmarks.nodes:visit`); that many `podium worker --concurrency C`
processes start and say they are ready; then this process (an embedded `Podium` without
worker slots, as an API process would be) starts `runs` runs at once and polls the database
until every one has ended. The clock runs from the first start to the last end (polled every
10 ms). Every run must then be `succeeded` with every node visited.

Besides runs/s and node-steps/s it measures the CPU the measurement took, per run: the
worker processes', PostgreSQL's (postmaster and backends, `benchmarks/pg.py`) and this
process's (the starts, the polling, the notifications it receives).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.pg import FreshPostgres, PostgresCpu
from benchmarks.podium_workloads import BenchmarkError, _check_runs, chain_flow

from podium.config import Settings
from podium.engine.runtime import Podium

ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.01
ENDED = ("succeeded", "failed", "cancelled")


@dataclass
class ScaleResult:
    processes: int
    runs: int
    nodes: int
    seconds: float
    worker_cpu_ms_per_run: float | None
    db_cpu_ms_per_run: float | None
    client_cpu_ms_per_run: float

    @property
    def runs_per_s(self) -> float:
        return self.runs / self.seconds

    @property
    def node_steps_per_s(self) -> float:
        return self.runs * self.nodes / self.seconds


def _podium_binary() -> str:
    beside = Path(sys.executable).parent / "podium"
    return str(beside) if beside.exists() else "podium"


class Workers:
    """`count` `podium worker` processes on `url`, stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, url: str, count: int, concurrency: int, logs: Path) -> None:
        self.url, self.count, self.concurrency, self.logs = url, count, concurrency, logs
        self.processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def __enter__(self) -> Workers:
        env = {
            **os.environ,
            "PODIUM_DATABASE_URL": self.url,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
            ),
            # One app: it may use every slot of every process (the cap holds across them).
            "PODIUM_APP_MAX_CONCURRENT_RUNS": os.environ.get(
                "PODIUM_APP_MAX_CONCURRENT_RUNS", str(self.count * self.concurrency)
            ),
        }
        cmd = [_podium_binary(), "worker", "--concurrency", str(self.concurrency)]
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            for i in range(self.count):
                log_path = self.logs / f"worker{i}.log"
                with log_path.open("wb") as out:
                    process = subprocess.Popen(
                        cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
                    )
                self.processes.append((process, log_path))
            for process, log_path in self.processes:
                self._ready(process, log_path)
        except BaseException:
            self.__exit__()
            raise
        return self

    @staticmethod
    def _ready(process: subprocess.Popen[bytes], log_path: Path, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            text = log_path.read_text(errors="replace")
            if "processing runs" in text:
                return
            if process.poll() is not None:
                raise BenchmarkError(f"podium worker exited with {process.returncode}:\n{text}")
            time.sleep(0.05)
        raise BenchmarkError(f"podium worker not ready in {seconds:.0f}s")

    def cpu_seconds(self) -> float | None:
        try:
            import psutil
        except ImportError:
            return None
        total = 0.0
        for process, _ in self.processes:
            with contextlib.suppress(psutil.Error):
                times = psutil.Process(process.pid).cpu_times()
                total += times.user + times.system
        return total

    def __exit__(self, *exc: object) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                process.terminate()
        for process, _ in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


async def _measure(
    url: str,
    settings: Settings,
    workers: Workers,
    db_cpu: PostgresCpu,
    runs: int,
    nodes: int,
) -> tuple[float, float | None, float | None, float]:
    import asyncpg

    from podium.storage.urls import asyncpg_dsn

    flow = chain_flow(nodes)
    expected = [f"n{i}" for i in range(nodes)]
    async with Podium.open(url, workers=0, settings=settings) as podium:
        await podium.register_flow(flow)
        poll = await asyncpg.connect(asyncpg_dsn(url))
        try:
            with workers:
                before = (workers.cpu_seconds(), db_cpu.seconds(), time.process_time())
                started = time.perf_counter()
                handles = await asyncio.gather(*(podium.start(flow.name, {}) for _ in range(runs)))
                ids = [h.run_id for h in handles]
                deadline = time.monotonic() + 300
                while True:
                    done = await poll.fetchval(
                        "SELECT count(*) FROM runs WHERE id = ANY($1::text[]) "
                        "AND status = ANY($2::text[])",
                        ids,
                        list(ENDED),
                    )
                    if done >= runs:
                        break
                    if time.monotonic() > deadline:
                        raise BenchmarkError(f"W5: {done} of {runs} runs ended in 300 s")
                    await asyncio.sleep(POLL_SECONDS)
                seconds = time.perf_counter() - started
                after = (workers.cpu_seconds(), db_cpu.seconds(), time.process_time())
        finally:
            await poll.close()
        await _check_runs(podium, handles, expected, "succeeded")

    def per_run(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else (b - a) * 1000 / runs

    return (
        seconds,
        per_run(before[0], after[0]),
        per_run(before[1], after[1]),
        (after[2] - before[2]) * 1000 / runs,
    )


def w5_worker_processes(
    pg_url: str,
    workdir: Path,
    settings: Settings,
    processes: int,
    runs: int = 400,
    nodes: int = 10,
    concurrency: int = 16,
) -> ScaleResult:
    """`runs` chain runs started at once on a fresh PostgreSQL database, executed by
    `processes` `podium worker` processes of `concurrency` slots each."""
    with FreshPostgres(pg_url, prefix="podium_w5") as pg:
        workers = Workers(pg.url, processes, concurrency, workdir / f"w5_{processes}")
        seconds, worker_cpu, db_cpu, client_cpu = asyncio.run(
            _measure(pg.url, settings, workers, PostgresCpu(pg.url), runs, nodes)
        )
    return ScaleResult(processes, runs, nodes, seconds, worker_cpu, db_cpu, client_cpu)
