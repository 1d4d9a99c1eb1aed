"""Handlers of `guestbook.signed`, run durably from the app's event log."""

from __future__ import annotations

from guestbook.entries import SIGNED, greet_entry
from podium.events.envelope import Event
from podium.packs.base import HandlerContext, subscribe


@subscribe(SIGNED)
async def greet(event: Event, ctx: HandlerContext) -> None:
    """Write a greeting on the entry (once per event: see `handled`)."""
    entry_id, name = event.data["entry_id"], event.data["name"]
    greeting = f"Welcome, {name}!"
    await ctx.store.run_script(lambda: greet_entry(ctx.app_id, entry_id, greeting))


@subscribe(SIGNED)
async def moderate(event: Event, ctx: HandlerContext) -> None:
    """Refuse entries that carry a link: raising makes the runner retry the event with
    back-off, then keep it as failed for the pack's handlers route."""
    entry = await ctx.store.run_read(lambda: _message(ctx.app_id, event.data["entry_id"]))
    if "http://" in entry or "https://" in entry:
        raise ValueError(f"entry {event.data['entry_id']} holds a link; links are not allowed")


def _message(app_id: str, entry_id: str):  # type: ignore[no-untyped-def]
    from podium.storage.script import one

    row = yield one(
        "SELECT message FROM guestbook_entries WHERE id = ? AND app_id = ?", entry_id, app_id
    )
    return "" if row is None else row["message"]
