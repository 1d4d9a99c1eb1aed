"""Node functions for tests: importable by workers in this process and in child processes."""

from __future__ import annotations

import asyncio
import datetime
import os
from pathlib import Path
from typing import Any

from podium import Context


async def visit(ctx: Context) -> dict[str, Any]:
    """Appends the node's id to `visited` (with reducer append)."""
    return {"visited": [ctx.node_id]}


async def boom(ctx: Context) -> dict[str, Any]:
    raise RuntimeError(f"{ctx.node_id} exploded")


async def slow_visit(ctx: Context) -> dict[str, Any]:
    await asyncio.sleep(float(ctx.config.get("seconds", 0.2)))
    return {"visited": [ctx.node_id]}


async def stubborn_sleep(ctx: Context) -> dict[str, Any]:
    """Sleeps, and carries on when cancelled (node code that swallows a cancellation)."""
    try:
        await asyncio.sleep(float(ctx.config.get("seconds", 5)))
    except asyncio.CancelledError:
        return {"visited": [f"{ctx.node_id} (cancelled)"]}
    return {"visited": [ctx.node_id]}


async def not_json(ctx: Context) -> dict[str, Any]:
    return {"when": datetime.datetime(2026, 1, 1)}


async def increment(ctx: Context) -> dict[str, Any]:
    return {"count": ctx.state.get("count", 0) + 1, "visited": [ctx.node_id]}


async def ask_name(ctx: Context) -> dict[str, Any]:
    name = await ctx.ask_user("What is your name?")
    return {"name": name}


def _count(path: str, label: str) -> int:
    """A side effect the engine cannot see: one line appended to a file per execution."""
    with open(path, "a", encoding="utf-8") as file:
        file.write(label + "\n")
    return len(Path(path).read_text(encoding="utf-8").splitlines())


async def counted(ctx: Context) -> dict[str, Any]:
    """Counts its own executions and one recorded call in the files named by the state."""
    _count(ctx.state["executions_file"], ctx.node_id)
    value = await ctx.step("side_effect", _count, ctx.state["calls_file"], ctx.node_id)
    return {"visited": [ctx.node_id], f"{ctx.node_id}_call": value}


async def counted_fails_first(ctx: Context) -> dict[str, Any]:
    """Counts its executions and one recorded call; its first execution fails after the call."""
    executions = _count(ctx.state["executions_file"], ctx.node_id)
    value = await ctx.step("side_effect", _count, ctx.state["calls_file"], ctx.node_id)
    if executions == 1:
        raise RuntimeError(f"{ctx.node_id} failed its first attempt")
    return {"visited": [ctx.node_id], f"{ctx.node_id}_call": value}


async def counted_then_block(ctx: Context) -> dict[str, Any]:
    """Finishes one recorded call, then blocks until the marker file is gone (or killed)."""
    _count(ctx.state["executions_file"], ctx.node_id)
    await ctx.step("first", _count, ctx.state["calls_file"], f"{ctx.node_id}.first")
    marker = Path(ctx.state["marker_file"])
    if not marker.exists():
        marker.write_text(str(os.getpid()), encoding="utf-8")
        while True:  # the parent SIGKILLs this process here
            await asyncio.sleep(0.05)
    second = await ctx.step("second", _count, ctx.state["calls_file"], f"{ctx.node_id}.second")
    return {"visited": [ctx.node_id], "second": second}


async def block_at_start(ctx: Context) -> dict[str, Any]:
    """The first time, blocks before doing anything (the parent kills the process there, so the
    kill lands after the previous step committed and before this one did any work)."""
    marker = Path(ctx.state["marker_file"])
    if not marker.exists():
        marker.write_text(str(os.getpid()), encoding="utf-8")
        while True:
            await asyncio.sleep(0.05)
    _count(ctx.state["executions_file"], ctx.node_id)
    return {"visited": [ctx.node_id]}


async def announce_and_ask_twice(ctx: Context) -> dict[str, Any]:
    """Emits an event before each of two questions and one after: the step runs three times."""
    ctx.emit("message.created", {"role": "assistant", "content": "first question coming"})
    first = await ctx.ask_user("First?")
    ctx.emit("message.created", {"role": "assistant", "content": "second question coming"})
    second = await ctx.ask_user("Second?")
    ctx.emit("message.created", {"role": "assistant", "content": f"got {first} and {second}"})
    return {"answers": [first, second]}
