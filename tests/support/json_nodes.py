"""Node functions that try to put values past the JSON boundary from inside a run: too deep,
a NUL, NaN, an oversized state or event, into the state, a recorded call, an event, memory,
an artifact and an agent message (tests/engine/test_json_boundary.py)."""

from __future__ import annotations

from typing import Any

from podium import Context


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


BAD = {"deep": nested(100), "nul": "Ada\x00", "nan": float("nan"), "very deep": nested(5000)}


async def bad_output(ctx: Context) -> dict[str, Any]:
    return {"value": BAD[ctx.config["bad"]]}


async def bad_step(ctx: Context) -> dict[str, Any]:
    value = await ctx.step("fetch", lambda: BAD[ctx.config["bad"]])
    return {"value": value}


async def bad_event(ctx: Context) -> dict[str, Any]:
    ctx.emit("custom.thing", {"value": BAD[ctx.config["bad"]]})
    return {"emitted": True}


async def big_event(ctx: Context) -> dict[str, Any]:
    ctx.emit("custom.thing", {"text": "x" * int(ctx.config["chars"])})
    return {"emitted": True}


async def grow_state(ctx: Context) -> dict[str, Any]:
    """Adds `chars` characters to the state under the node's id."""
    return {ctx.node_id: "x" * int(ctx.config["chars"])}


async def bad_memory(ctx: Context) -> dict[str, Any]:
    await ctx.memory.set("k", BAD[ctx.config["bad"]])
    return {"stored": True}


async def bad_artifact(ctx: Context) -> dict[str, Any]:
    await ctx.artifacts.create("Doc", {"value": BAD[ctx.config["bad"]]})
    return {"stored": True}


async def bad_message(ctx: Context) -> dict[str, Any]:
    await ctx.send_agent_message("b", "request", {"value": BAD[ctx.config["bad"]]})
    return {"stored": True}


async def big_output(ctx: Context) -> dict[str, Any]:
    return {"text": "x" * int(ctx.config["chars"])}


async def loud_failure(ctx: Context) -> dict[str, Any]:
    raise ValueError("y" * int(ctx.config["chars"]))


async def long_question(ctx: Context) -> dict[str, Any]:
    chars = int(ctx.config["chars"])
    answer = await ctx.ask_user("q" * chars, choices=["c" * chars, "yes"])
    return {"answer": answer}
