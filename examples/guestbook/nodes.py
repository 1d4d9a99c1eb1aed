"""Node functions of the pack's flows (`guestbook.nodes:sign`)."""

from __future__ import annotations

from typing import Any

from guestbook.entries import SIGNED, add_entry
from podium import Context


async def sign(ctx: Context) -> dict[str, Any]:
    """Sign with the session's `name` and `message`; recorded once (`ctx.step`), so a step
    that runs again after a crash does not sign twice."""
    name, message = str(ctx.state.get("name", "")), str(ctx.state.get("message", ""))

    async def insert() -> dict[str, Any]:
        entry: dict[str, Any] = await ctx.store.run_script(
            lambda: add_entry(ctx.app_id, name, message)
        )
        return entry

    entry = await ctx.step("guestbook.sign", insert)
    ctx.emit(SIGNED, {"entry_id": entry["id"], "name": name})
    return {"entry_id": entry["id"]}
