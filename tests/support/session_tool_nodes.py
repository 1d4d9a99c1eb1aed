"""Node functions for the session tools' tests: an artifact for the agent to work on, and a
probe of what a tool's session access reaches."""

from __future__ import annotations

from typing import Any

from podium import Context, NotFound
from podium.agents.session_access import RunSessionAccess


async def make_artifact(ctx: Context) -> dict[str, Any]:
    """An artifact attached to this session, for the agent that runs next."""
    state = ctx.config.get("state", {"title": "Landing page", "progress": 0})
    artifact = await ctx.artifacts.create("Tracker", state)
    return {"artifact_id": artifact["id"]}


async def reach_foreign(ctx: Context) -> dict[str, Any]:
    """What the session access answers for an artifact id of another app."""
    access = RunSessionAccess(ctx, "probe", "probe.call")
    errors = []
    for attempt in (
        access.read_artifact(ctx.config["foreign"]),
        access.patch_artifact(ctx.config["foreign"], {"owned": "by me"}, None),
    ):
        try:
            await attempt
        except NotFound as error:
            errors.append(error.message)
    return {"errors": errors}
