"""Node functions that use artifacts and the session manager (`ctx.artifacts`,
`ctx.sessions`, `ctx.wait_for_action`): importable by in-process workers and by a live
`podium serve` started with PYTHONPATH=tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from podium import Context, NotFound

BUTTONS = [
    {"label": "View Revenue", "action": "launch_workflow", "workflow": "RevenueDashboard"},
    {"label": "Deploy to Production", "action": "deploy_app"},
]


async def build_and_wait(ctx: Context) -> dict[str, Any]:
    """Makes an artifact, reports progress on it, waits for `deploy_app`, then records the
    deployment. When the step runs again (the action arrived), the artifact made and the
    progress reported the first time are recorded calls: neither happens twice."""
    artifact = await ctx.artifacts.create(
        "AppBuilderArtifact", {"build_progress": 0, "buttons": BUTTONS}
    )
    await ctx.artifacts.update(artifact["id"], {"build_progress": 100})
    received = await ctx.wait_for_action(artifact["id"], ["deploy_app"])
    done = await ctx.artifacts.update(
        artifact["id"], {"deployment_status": "deployed", "deployed_by": received["actor"]}
    )
    return {"artifact_id": artifact["id"], "received": received, "final_version": done["version"]}


async def wait_for_deploy(ctx: Context) -> dict[str, Any]:
    """Waits for `deploy_app` on the artifact named by the state."""
    received = await ctx.wait_for_action(ctx.state["artifact_id"], ["deploy_app"])
    return {"received": received}


async def track_and_complete(ctx: Context) -> dict[str, Any]:
    """The session manager from node code: an artifact of this session, partial updates,
    then the flow completes its own session while it still runs."""
    sessions = ctx.sessions
    artifact = await sessions.create_artifact_instance(
        "tracker", "ChallengeTracker", {"completed_steps": 0, "total_steps": 2, "title": "x"}
    )
    await sessions.attach_artifact_to_session(None, artifact["id"])
    await sessions.update_artifact_state(artifact["id"], {"completed_steps": 1})
    updated = await sessions.update_artifact_state(
        artifact["id"], {"completed_steps": 2, "status": "completed"}
    )
    completed = await sessions.complete_workflow_session()
    session = await sessions.get_workflow_session()
    return {
        "artifact_id": artifact["id"],
        "tracker": updated["state"],
        "version": updated["version"],
        "status_when_completed": completed["status"],
        "attached": session["artifact_ids"],
    }


async def launch(ctx: Context) -> dict[str, Any]:
    """Starts a session of the flow `config.flow` for this session's user."""
    session = await ctx.sessions.create_workflow_session(
        ctx.config["flow"], input={"from": ctx.session_id}
    )
    return {"launched": session["id"], "launched_user": session["user_id"]}


async def look_for_missing(ctx: Context) -> dict[str, Any]:
    """What node code sees for ids that do not exist: NotFound, with the id."""
    errors = []
    attempts: list[Callable[[], Awaitable[Any]]] = [
        lambda: ctx.artifacts.get("art_missing"),
        lambda: ctx.artifacts.update("art_missing", {"x": 1}),
        lambda: ctx.sessions.get_workflow_session("ses_missing"),
        lambda: ctx.sessions.get_artifact_instance("art_missing"),
    ]
    for attempt in attempts:
        try:
            await attempt()
        except NotFound as error:
            errors.append(error.message)
    return {"errors": errors}


async def use_every_artifact_call(ctx: Context) -> dict[str, Any]:
    """`ctx.artifacts` end to end: create, update, attach elsewhere, list, history, get."""
    made = await ctx.artifacts.create("Dashboard", {"total": 1, "apps": []})
    await ctx.artifacts.update(made["id"], {"total": 2})
    attached = await ctx.artifacts.attach(made["id"], ctx.config["other_session"])
    return {
        "made": made,
        "attached": attached["session_ids"],
        "mine": [a["id"] for a in await ctx.artifacts.list()],
        "dashboards_elsewhere": [
            a["id"]
            for a in await ctx.artifacts.list(
                session_id=ctx.config["other_session"], type="Dashboard"
            )
        ],
        "history": [(v["version"], v["patch"]) for v in await ctx.artifacts.history(made["id"])],
        "read": await ctx.artifacts.get(made["id"]),
    }
