"""Podium side of the side-by-side benchmark (see ``benchmarks/engine.py``).

Every workload opens a fresh SQLite file with ``Podium.open`` (embedded: the store, the
event bus and in-process workers in this process), registers its flow before the clock
starts, and drives runs through the public API only (``start``, ``wait``,
``pending_questions``, ``answer``). Every node is ``benchmarks.nodes:visit``, which appends
its node id to ``visited`` (an ``append`` reducer). Every step's end is committed before the
next step starts (DESIGN §3.10); ``sqlite_synchronous`` picks ``PRAGMA synchronous``.

After the clock stops, every run is checked (status ``succeeded`` and every node visited),
and a run that did not finish raises ``BenchmarkError``. ``db_bytes_per_run`` is the size
of the database file after ``Podium.open`` has exited (plus a ``-wal`` file if one remains),
divided by the number of runs (sessions), measured exactly as on the LangGraph side.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.nodes import visit

from podium.config import Settings
from podium.engine.builder import FlowBuilder
from podium.engine.flow import Flow
from podium.engine.runtime import Podium, RunHandle

__all__ = [
    "BenchmarkError",
    "Result",
    "chain_flow",
    "db_bytes",
    "fanout_flow",
    "fresh_db",
    "pause_flow",
    "w1_chain",
    "w2_fanout",
    "w3_pause_resume",
    "w4_concurrent",
]

REDUCERS = {"visited": "append"}


class BenchmarkError(RuntimeError):
    """A run did not end as it should: the figures would be meaningless."""


@dataclass
class Result:
    runs: int
    seconds: float
    db_bytes: int
    node_steps: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def node_steps_per_s(self) -> float:
        return self.node_steps / self.seconds

    @property
    def db_bytes_per_run(self) -> float:
        return self.db_bytes / self.runs


# --------------------------------------------------------------------------- flows


def chain_flow(nodes: int = 10, name: str = "bench_chain") -> Flow:
    names = [f"n{i}" for i in range(nodes)]
    builder = FlowBuilder(name, reducers=REDUCERS)
    for node_id in names:
        builder.python(node_id, visit)
    return builder.chain(*names).build()


def fanout_flow(width: int = 8, name: str = "bench_fanout") -> Flow:
    builder = FlowBuilder(name, reducers=REDUCERS).python("start", visit)
    for i in range(width):
        builder.python(f"p{i}", visit).edge("start", f"p{i}")
    builder.python("join", visit)  # default join: runs once every input is resolved
    for i in range(width):
        builder.edge(f"p{i}", "join")
    return builder.build()


def pause_flow(name: str = "bench_pause") -> Flow:
    return (
        FlowBuilder(name, reducers=REDUCERS)
        .python("before", visit)
        .human("ask", "question?")
        .python("after", visit)
        .chain("before", "ask", "after")
        .build()
    )


# --------------------------------------------------------------------------- helpers


def fresh_db(workdir: Path, name: str) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{name}.sqlite"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def db_bytes(path: Path) -> int:
    """The closed database's size: the file plus a ``-wal`` file if one survived."""
    size = path.stat().st_size
    wal = Path(f"{path}-wal")
    if wal.exists():
        size += wal.stat().st_size
    return size


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def _settings(base: Settings, **changes: Any) -> Settings:
    return base.model_copy(update=changes)


def _one_app(base: Settings, workers: int) -> Settings:
    """Every workload runs one app: unless told otherwise, it may use every slot (the default
    per-app cap of half the slots is a multi-tenant policy, not an engine cost)."""
    if base.app_max_concurrent_runs:
        return base
    return _settings(base, app_max_concurrent_runs=workers)


async def _check_runs(
    podium: Podium, handles: Sequence[RunHandle], expected: Sequence[str], status: str
) -> None:
    """Every run has `status` and its session's `visited` holds exactly `expected`."""
    want = sorted(expected)
    for handle in handles:
        run = await podium.store.get_run(handle.run_id)
        if run.status != status:
            raise BenchmarkError(
                f"run {run.id} is {run.status!r}, expected {status!r} (error: {run.error})"
            )
        session = await podium.store.get_session(handle.session_id)
        visited = session.state.get("visited")
        if sorted(visited or []) != want:
            raise BenchmarkError(f"run {run.id} visited {visited!r}, expected {list(expected)!r}")


async def _wait_all(podium: Podium, handles: Sequence[RunHandle], status: str) -> None:
    runs = await asyncio.gather(*(podium.wait(h.run_id, timeout=300) for h in handles))
    for run in runs:
        if run.status != status:
            raise BenchmarkError(f"run {run.id} is {run.status!r}, expected {status!r}")


# --------------------------------------------------------------------------- workloads


async def _sequential(
    path: Path, settings: Settings, flow: Flow, runs: int, expected: Sequence[str]
) -> float:
    async with Podium.open(_url(path), workers=1, settings=settings) as podium:
        await podium.register_flow(flow)
        handles = []
        start = time.perf_counter()
        for _ in range(runs):
            handle = await podium.start(flow.name, {})
            run = await podium.wait(handle.run_id, timeout=60)
            if run.status != "succeeded":
                raise BenchmarkError(f"run {run.id} ended {run.status!r}: {run.error}")
            handles.append(handle)
        seconds = time.perf_counter() - start
        await _check_runs(podium, handles, expected, "succeeded")
    return seconds


def w1_chain(
    workdir: Path, settings: Settings, runs: int = 200, nodes: int = 10, tag: str = ""
) -> Result:
    """Sequential runs (start, then wait for the end) of a `nodes`-long chain, one worker."""
    flow = chain_flow(nodes)
    path = fresh_db(workdir, f"podium_w1{tag}")
    expected = [f"n{i}" for i in range(nodes)]
    seconds = asyncio.run(_sequential(path, settings, flow, runs, expected))
    return Result(runs, seconds, db_bytes(path), node_steps=runs * nodes)


def w2_fanout(workdir: Path, settings: Settings, runs: int = 200, width: int = 8) -> Result:
    """Sequential runs of start -> `width` parallel nodes -> join, one worker."""
    flow = fanout_flow(width)
    path = fresh_db(workdir, "podium_w2")
    expected = ["start", *(f"p{i}" for i in range(width)), "join"]
    seconds = asyncio.run(_sequential(path, settings, flow, runs, expected))
    return Result(runs, seconds, db_bytes(path), node_steps=runs * len(expected))


async def _w3_concurrent(
    path: Path, settings: Settings, sessions: int, workers: int
) -> tuple[float, float]:
    flow = pause_flow()
    settings = _one_app(settings, workers)
    async with Podium.open(_url(path), workers=workers, settings=settings) as podium:
        await podium.register_flow(flow)

        start = time.perf_counter()
        handles = await asyncio.gather(*(podium.start(flow.name, {}) for _ in range(sessions)))
        await _wait_all(podium, handles, "interrupted")
        pause_seconds = time.perf_counter() - start
        await _check_runs(podium, handles, ["before"], "interrupted")

        async def answer(handle: RunHandle) -> None:
            questions = await podium.pending_questions(handle.run_id)
            if len(questions) != 1:
                raise BenchmarkError(f"run {handle.run_id} has {len(questions)} questions")
            await podium.answer(questions[0].id, "yes")

        start = time.perf_counter()
        await asyncio.gather(*(answer(h) for h in handles))
        await _wait_all(podium, handles, "succeeded")
        resume_seconds = time.perf_counter() - start
        await _check_runs(podium, handles, ["before", "after"], "succeeded")
    return pause_seconds, resume_seconds


async def _w3_sequential(path: Path, settings: Settings, sessions: int) -> tuple[float, float]:
    flow = pause_flow()
    async with Podium.open(_url(path), workers=1, settings=settings) as podium:
        await podium.register_flow(flow)
        handles = []
        start = time.perf_counter()
        for _ in range(sessions):
            handle = await podium.start(flow.name, {})
            run = await podium.wait(handle.run_id, timeout=60)
            if run.status != "interrupted":
                raise BenchmarkError(f"run {run.id} is {run.status!r}, expected 'interrupted'")
            handles.append(handle)
        pause_seconds = time.perf_counter() - start
        await _check_runs(podium, handles, ["before"], "interrupted")

        start = time.perf_counter()
        for handle in handles:
            (question,) = await podium.pending_questions(handle.run_id)
            await podium.answer(question.id, "yes")
            run = await podium.wait(handle.run_id, timeout=60)
            if run.status != "succeeded":
                raise BenchmarkError(f"run {run.id} is {run.status!r}, expected 'succeeded'")
        resume_seconds = time.perf_counter() - start
        await _check_runs(podium, handles, ["before", "after"], "succeeded")
    return pause_seconds, resume_seconds


def w3_pause_resume(
    workdir: Path,
    settings: Settings,
    sessions: int = 500,
    workers: int = 8,
    sequential: bool = False,
) -> Result:
    """`sessions` runs of before -> ask (human) -> after: all paused, then all answered.

    Concurrent (default): all sessions are started at once and `workers` slots execute them;
    pauses/s counts from the first start until every run is `interrupted`; resumes/s from
    the first answer (`pending_questions` + `answer` per run) until every run succeeded.
    `sequential=True` does one session at a time with one worker, like the LangGraph side.
    """
    path = fresh_db(workdir, "podium_w3_seq" if sequential else "podium_w3")
    if sequential:
        pause_s, resume_s = asyncio.run(_w3_sequential(path, settings, sessions))
    else:
        pause_s, resume_s = asyncio.run(_w3_concurrent(path, settings, sessions, workers))
    return Result(
        sessions,
        pause_s + resume_s,
        db_bytes(path),
        extra={"pauses_per_s": sessions / pause_s, "resumes_per_s": sessions / resume_s},
    )


async def _w4(path: Path, settings: Settings, runs: int, nodes: int, workers: int) -> float:
    flow = chain_flow(nodes)
    expected = [f"n{i}" for i in range(nodes)]
    settings = _one_app(settings, workers)
    async with Podium.open(_url(path), workers=workers, settings=settings) as podium:
        await podium.register_flow(flow)
        start = time.perf_counter()
        handles = await asyncio.gather(*(podium.start(flow.name, {}) for _ in range(runs)))
        await _wait_all(podium, handles, "succeeded")
        seconds = time.perf_counter() - start
        await _check_runs(podium, handles, expected, "succeeded")
    return seconds


def w4_concurrent(
    workdir: Path, settings: Settings, runs: int = 100, nodes: int = 10, workers: int = 8
) -> Result:
    """`runs` chain runs started at once, executed by `workers` in-process slots."""
    path = fresh_db(workdir, f"podium_w4_{workers}")
    seconds = asyncio.run(_w4(path, settings, runs, nodes, workers))
    return Result(runs, seconds, db_bytes(path), node_steps=runs * nodes)
