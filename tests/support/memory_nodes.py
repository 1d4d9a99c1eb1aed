"""Node functions that use shared memory and agent messages (`ctx.memory`,
`ctx.send_agent_message`)."""

from __future__ import annotations

from typing import Any

from podium import Context


async def remember(ctx: Context) -> dict[str, Any]:
    """Sets, reads and lists `greeting` in the scope of `config.scope`."""
    scope = ctx.config.get("scope", "session")
    await ctx.memory.set("greeting", {"text": "hi"}, scope=scope, ttl=ctx.config.get("ttl"))
    await ctx.memory.set("grocery", ["milk"], scope=scope)
    return {
        "value": await ctx.memory.get("greeting", scope=scope),
        "missing": await ctx.memory.get("nope", "fallback", scope=scope),
        "listed": await ctx.memory.list("gr", scope=scope),
    }


async def count_then_ask(ctx: Context) -> dict[str, Any]:
    """Reads and increments the app's `counter`, waits for an answer, then reads it again and
    deletes it: run again after the answer, the first read and the write are not made again."""
    before = await ctx.memory.get("counter", 0, scope="app")
    await ctx.memory.set("counter", before + 1, scope="app")
    answer = await ctx.ask_user("Go on?")
    after = await ctx.memory.get("counter", scope="app")
    return {
        "before": before,
        "after": after,
        "answer": answer,
        "deleted": await ctx.memory.delete("counter", scope="app"),
        "deleted_again": await ctx.memory.delete("counter", scope="app"),
    }


async def per_user(ctx: Context) -> dict[str, Any]:
    await ctx.memory.set("theme", "dark", scope="user")
    return {"theme": await ctx.memory.get("theme", scope="user")}


async def talk_then_ask(ctx: Context) -> dict[str, Any]:
    """Sends a request and a handoff, then waits: the messages are sent once."""
    request = await ctx.send_agent_message("coder", "request", {"task": "build it"})
    handoff = await ctx.send_agent_message("reviewer", "handoff", "your turn", sender="coder")
    answer = await ctx.ask_user("Done?")
    return {"request": request, "handoff": handoff, "answer": answer}


async def shout(ctx: Context) -> dict[str, Any]:
    await ctx.send_agent_message("coder", "shout", "HEY")
    return {}
