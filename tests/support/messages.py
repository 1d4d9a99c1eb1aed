"""A node that writes to the session's transcript (`message.created` events)."""

from typing import Any

from podium import Context


async def say(ctx: Context) -> dict[str, Any]:
    text = str(ctx.config.get("text", "")).format(**ctx.state)
    ctx.emit("message.created", {"role": "assistant", "content": text})
    return {}
