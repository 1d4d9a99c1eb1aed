"""LangGraph side of the Podium side-by-side benchmark.

Every workload builds a graph of trivial nodes (each one only appends its own name to
``visited``, an ``operator.add`` list reducer) so that what is measured is the engine's own
per-step overhead plus checkpoint persistence, not user work. Each workload creates its own
fresh SQLite file under ``workdir`` via ``langgraph.checkpoint.sqlite`` with library defaults
(the saver switches the file to WAL journal mode; Python's ``sqlite3`` default of
``synchronous=FULL`` is left untouched), compiles the graph with that checkpointer, and
invokes it with ``durability="sync"``: the checkpoint of every super-step is written and
committed before the next super-step starts. (LangGraph's own default is ``"async"``.)

Workloads:

* W1 ``w1_chain``: a linear chain of ``nodes`` nodes, ``runs`` sequential runs, each on its
  own ``thread_id``, synchronous ``SqliteSaver`` + ``graph.invoke``. ``durability`` may also
  be ``"async"`` / ``"exit"`` (fewer writes) or ``None`` (compiled without a checkpointer)
  for reference numbers.
* W2 ``w2_fanout``: ``start`` -> ``width`` parallel nodes -> ``join`` (join waits for all),
  sequential runs; every run counts ``width + 2`` node steps.
* W3 ``w3_pause_resume``: ``start`` -> ``ask`` -> ``end_node`` where ``ask`` calls
  ``langgraph.types.interrupt``. All sessions are first run until they pause (timed as
  pauses/s), then every session is resumed with ``Command(resume="answer")`` (resumes/s).
* W4 ``w4_concurrent``: ``runs`` chain runs executed concurrently on one event loop with
  ``AsyncSqliteSaver`` (one aiosqlite connection) + ``asyncio.gather(graph.ainvoke(...))``.

Timings use ``time.perf_counter`` and cover only the invocations: graph compilation and
checkpointer table creation (``setup()``) happen before the clock starts, closing the
connection after it stops. ``db_bytes_per_run`` is the size of the database file after the
connection has been closed, divided by the number of runs (threads).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import operator
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Protocol, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, Durability, interrupt

__all__ = ["main", "w1_chain", "w2_fanout", "w3_pause_resume", "w4_concurrent"]


class State(TypedDict):
    visited: Annotated[list[str], operator.add]


Graph = CompiledStateGraph[Any, Any, Any, Any]
Update = dict[str, list[str]]


class NodeFn(Protocol):
    """A node taking the state as ``state`` (the shape LangGraph's ``add_node`` types expect)."""

    def __call__(self, state: State) -> Update: ...


# --------------------------------------------------------------------------- helpers


def _visit(name: str) -> NodeFn:
    def node(state: State) -> Update:
        return {"visited": [name]}

    node.__name__ = name
    return node


def _ask(state: State) -> Update:
    answer = interrupt("question?")
    if answer != "answer":
        raise RuntimeError(f"unexpected resume value {answer!r}")
    return {"visited": ["ask"]}


def _chain_graph(nodes: int, checkpointer: BaseCheckpointSaver[Any] | None) -> Graph:
    builder = StateGraph(State)
    names = [f"n{i}" for i in range(nodes)]
    for name in names:
        builder.add_node(name, _visit(name))
    builder.add_edge(START, names[0])
    for prev, nxt in itertools.pairwise(names):
        builder.add_edge(prev, nxt)
    builder.add_edge(names[-1], END)
    return builder.compile(checkpointer=checkpointer)


def _fanout_graph(width: int, checkpointer: BaseCheckpointSaver[Any]) -> Graph:
    builder = StateGraph(State)
    branches = [f"p{i}" for i in range(width)]
    builder.add_node("start", _visit("start"))
    for name in branches:
        builder.add_node(name, _visit(name))
    builder.add_node("join", _visit("join"))
    builder.add_edge(START, "start")
    for name in branches:
        builder.add_edge("start", name)
    builder.add_edge(branches, "join")  # list source = wait for all branches
    builder.add_edge("join", END)
    return builder.compile(checkpointer=checkpointer)


def _interrupt_graph(checkpointer: BaseCheckpointSaver[Any]) -> Graph:
    builder = StateGraph(State)
    builder.add_node("start", _visit("start"))
    builder.add_node("ask", _ask)
    builder.add_node("end_node", _visit("end_node"))
    builder.add_edge(START, "start")
    builder.add_edge("start", "ask")
    builder.add_edge("ask", "end_node")
    builder.add_edge("end_node", END)
    return builder.compile(checkpointer=checkpointer)


def _fresh_db(workdir: Path, name: str) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{name}.sqlite"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def _db_bytes(path: Path) -> int:
    """Size on disk of a closed database.

    Closing the last connection of a WAL database checkpoints the WAL into the main file and
    deletes ``-wal``, so normally only the main file remains. If a ``-wal`` file survives
    anyway (e.g. another process still holds the db open) its bytes are counted as well.
    """
    size = path.stat().st_size
    wal = Path(f"{path}-wal")
    if wal.exists():
        size += wal.stat().st_size
    return size


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def _check_visited(result: Any, expected: Sequence[str] | int) -> None:
    visited = result["visited"]
    if isinstance(expected, int):
        ok = len(visited) == expected
    else:
        ok = sorted(visited) == sorted(expected)
    if not ok:
        raise RuntimeError(f"unexpected visited list {visited!r}, expected {expected!r}")


# --------------------------------------------------------------------------- workloads


def w1_chain(
    workdir: Path,
    runs: int = 200,
    nodes: int = 10,
    durability: Durability | None = "sync",
) -> dict[str, float]:
    """Sequential runs of a ``nodes``-long chain; ``durability=None`` = no checkpointer."""
    if durability is None:
        graph = _chain_graph(nodes, checkpointer=None)
        start = time.perf_counter()
        for i in range(runs):
            _check_visited(graph.invoke({"visited": []}, _config(f"w1-{i}")), nodes)
        seconds = time.perf_counter() - start
        return {
            "node_steps_per_s": runs * nodes / seconds,
            "db_bytes_per_run": 0.0,
            "seconds": seconds,
        }

    path = _fresh_db(workdir, f"langgraph_w1_{durability}")
    with SqliteSaver.from_conn_string(str(path)) as saver:
        saver.setup()
        graph = _chain_graph(nodes, checkpointer=saver)
        start = time.perf_counter()
        for i in range(runs):
            result = graph.invoke({"visited": []}, _config(f"w1-{i}"), durability=durability)
            _check_visited(result, nodes)
        seconds = time.perf_counter() - start
    return {
        "node_steps_per_s": runs * nodes / seconds,
        "db_bytes_per_run": _db_bytes(path) / runs,
        "seconds": seconds,
    }


def w2_fanout(
    workdir: Path, runs: int = 200, width: int = 8, durability: Durability = "sync"
) -> dict[str, float]:
    """Sequential runs of start -> ``width`` parallel nodes -> join."""
    path = _fresh_db(workdir, "langgraph_w2")
    expected = ["start", *(f"p{i}" for i in range(width)), "join"]
    with SqliteSaver.from_conn_string(str(path)) as saver:
        saver.setup()
        graph = _fanout_graph(width, saver)
        start = time.perf_counter()
        for i in range(runs):
            result = graph.invoke({"visited": []}, _config(f"w2-{i}"), durability=durability)
            _check_visited(result, expected)
        seconds = time.perf_counter() - start
    return {
        "node_steps_per_s": runs * len(expected) / seconds,
        "db_bytes_per_run": _db_bytes(path) / runs,
        "seconds": seconds,
    }


def w3_pause_resume(
    workdir: Path, sessions: int = 500, durability: Durability = "sync"
) -> dict[str, float]:
    """Run ``sessions`` threads until ``interrupt()`` pauses them, then resume them all."""
    path = _fresh_db(workdir, "langgraph_w3")
    configs = [_config(f"w3-{i}") for i in range(sessions)]
    with SqliteSaver.from_conn_string(str(path)) as saver:
        saver.setup()
        graph = _interrupt_graph(saver)

        start = time.perf_counter()
        for config in configs:
            result = graph.invoke({"visited": []}, config, durability=durability)
            # invoke() returns normally; the pause is reported under "__interrupt__".
            if "__interrupt__" not in result:
                raise RuntimeError(f"run did not pause: {result!r}")
        pause_seconds = time.perf_counter() - start

        for config in configs:  # not timed: every thread must be parked at "ask"
            snapshot = graph.get_state(config)
            if snapshot.next != ("ask",) or [i.value for i in snapshot.interrupts] != ["question?"]:
                raise RuntimeError(f"thread not paused at 'ask': {snapshot!r}")
            _check_visited(snapshot.values, ["start"])

        start = time.perf_counter()
        for config in configs:
            result = graph.invoke(Command(resume="answer"), config, durability=durability)
            _check_visited(result, ["start", "ask", "end_node"])
        resume_seconds = time.perf_counter() - start

        for config in configs:  # not timed: every thread must have finished
            snapshot = graph.get_state(config)
            if snapshot.next or snapshot.interrupts:
                raise RuntimeError(f"thread did not finish: {snapshot!r}")
    return {
        "pauses_per_s": sessions / pause_seconds,
        "resumes_per_s": sessions / resume_seconds,
        "db_bytes_per_run": _db_bytes(path) / sessions,
        "seconds": pause_seconds + resume_seconds,
    }


async def _w4_async(path: Path, runs: int, nodes: int, durability: Durability) -> float:
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        await saver.setup()
        graph = _chain_graph(nodes, checkpointer=saver)

        async def one(i: int) -> None:
            result = await graph.ainvoke({"visited": []}, _config(f"w4-{i}"), durability=durability)
            _check_visited(result, nodes)

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(runs)))
        return time.perf_counter() - start


def w4_concurrent(
    workdir: Path, runs: int = 100, nodes: int = 10, durability: Durability = "sync"
) -> dict[str, float]:
    """``runs`` chain runs in flight at once (asyncio.gather + AsyncSqliteSaver)."""
    path = _fresh_db(workdir, "langgraph_w4")
    seconds = asyncio.run(_w4_async(path, runs, nodes, durability))
    return {
        "node_steps_per_s": runs * nodes / seconds,
        "db_bytes_per_run": _db_bytes(path) / runs,
        "seconds": seconds,
    }


# --------------------------------------------------------------------------- script


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="where to put the SQLite files")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="langgraph_peer_") as tmp:
        workdir: Path = args.workdir or Path(tmp)
        results: list[tuple[str, Callable[[], dict[str, float]]]] = [
            ("w1_chain[sync]", lambda: w1_chain(workdir)),
            ("w1_chain[async]", lambda: w1_chain(workdir, durability="async")),
            ("w1_chain[exit]", lambda: w1_chain(workdir, durability="exit")),
            ("w1_chain[no checkpointer]", lambda: w1_chain(workdir, durability=None)),
            ("w2_fanout[sync]", lambda: w2_fanout(workdir)),
            ("w3_pause_resume[sync]", lambda: w3_pause_resume(workdir)),
            ("w4_concurrent[sync]", lambda: w4_concurrent(workdir)),
        ]
        for name, run in results:
            print(json.dumps({"engine": "langgraph", "workload": name, **run()}), flush=True)


if __name__ == "__main__":
    main()
