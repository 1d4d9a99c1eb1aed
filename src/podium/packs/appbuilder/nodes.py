"""Node code of the AppBuilder pack's five flows (the `python` nodes of flows/*.json).

Every artifact call goes through `ctx.artifacts` / `ctx.sessions`, which are recorded calls:
when a step runs again (after a crash, or once an action it waited for arrives) the artifact
made and the progress reported the first time are not made or reported again, and each
update is its own transaction with its own `artifact.state.updated` event, so a subscribed UI
sees the artifact change stage by stage.
"""

from __future__ import annotations

import time
from typing import Any

from podium.engine.context import Context
from podium.errors import InvalidInput
from podium.packs.appbuilder import journey

APP_ARTIFACT = "AppBuilderArtifact"
# How many invalid `invest` actions a marketplace answers (with a message in its artifact)
# before it gives up: a wait per attempt, so the run's recorded calls stay bounded.
MAX_INVEST_ATTEMPTS = 10


async def start_build(ctx: Context) -> dict[str, Any]:
    """AppBuilder, step 1: the artifact, at once, so the UI has something to show while the
    architecture is planned."""
    inputs = ctx.state
    app_name = journey.text_field(inputs, "app_name", "My App")
    idea = journey.text_field(inputs, "idea", app_name)
    given = journey.text_list(inputs, "features", journey.MAX_FEATURES)
    features = journey.features_of(idea, given)
    artifact = await ctx.artifacts.create(APP_ARTIFACT, journey.appbuilder_state(app_name, idea))
    return {"artifact_id": artifact["id"], "app_name": app_name, "idea": idea, "plan": features}


async def build_stages(ctx: Context) -> dict[str, Any]:
    """AppBuilder, step 3: the planned architecture, then design → code → test → deploy,
    one artifact update per stage, then the final state (Pattern 3). The session completes
    when this run succeeds, which opens MarketingAutomation for the user."""
    artifact_id = ctx.state["artifact_id"]
    features: list[str] = ctx.state["plan"]
    await ctx.artifacts.update(artifact_id, {"architecture": ctx.state.get("architecture")})
    for index in range(len(journey.STAGES)):
        update = journey.stage_update(index, features)
        update["last_updated"] = time.time()
        await ctx.artifacts.update(artifact_id, update)
    final = await ctx.artifacts.update(
        artifact_id, {"deployment_status": "ready_to_deploy", "completed_at": time.time()}
    )
    return {"features": final["state"]["features"], "build_progress": 100}


async def revenue_dashboard(ctx: Context) -> dict[str, Any]:
    """RevenueDashboard (Pattern 6): revenue by app, with chart data. Its apps are the
    input's `apps`, else the app whose artifact's "View Revenue" button launched it."""
    launched_from = await _launching_artifact_state(ctx)
    apps = journey.revenue_apps(ctx.state, launched_from)
    artifact = await ctx.artifacts.create(
        "RevenueDashboard",
        {"total_revenue": 0.0, "apps": [], "chart_data": journey.chart_data([]), "loading": True},
    )
    # One update per app: the dashboard fills in as the figures come.
    for count in range(1, len(apps) + 1):
        shown = apps[:count]
        await ctx.artifacts.update(
            artifact["id"],
            {
                "apps": shown,
                "total_revenue": round(sum(app["revenue"] for app in shown), 2),
                "chart_data": journey.chart_data(shown),
            },
        )
    final = await ctx.artifacts.update(
        artifact["id"], {"loading": False, "last_updated": time.time()}
    )
    return {"artifact_id": artifact["id"], "total_revenue": final["state"]["total_revenue"]}


async def _launching_artifact_state(ctx: Context) -> dict[str, Any] | None:
    """The state of the artifact whose `launch_workflow` button started this session."""
    session = await ctx.sessions.get_workflow_session()
    launched = (session.get("metadata") or {}).get("launched_from") or {}
    artifact_id = launched.get("artifact_id")
    if not isinstance(artifact_id, str):
        return None
    artifact = await ctx.artifacts.get(artifact_id)
    state: dict[str, Any] = artifact["state"]
    return state


async def investment_marketplace(ctx: Context) -> dict[str, Any]:
    """InvestmentMarketplace (no prerequisites): the apps built in this app, and an `invest`
    button; waits for `invest` {app, amount} and records the investment."""

    async def investable() -> list[dict[str, Any]]:
        from podium.sessions.context import artifact_service

        service = await artifact_service(ctx)
        page = await service.list_artifacts(ctx.app_id, type=APP_ARTIFACT, limit=journey.MAX_APPS)
        return [
            {
                "artifact_id": record.id,
                "name": record.state.get("app_name"),
                "build_progress": record.state.get("build_progress", 0),
                "revenue_to_date": record.state.get("revenue_to_date", 0.0),
            }
            for record in page.items
        ]

    apps = await ctx.step("appbuilder.investable_apps", investable)
    artifact = await ctx.artifacts.create(
        "InvestmentMarketplace",
        {
            "apps": apps,
            "filters": {"category": "all", "min_revenue": 0},
            "selected_app": None,
            "investment_amount": 0,
            "status": "open",
            "buttons": [{"label": "Invest", "action": "invest"}],
        },
    )
    for attempt in range(MAX_INVEST_ATTEMPTS):
        received = await ctx.wait_for_action(artifact["id"], ["invest"], key=f"invest:{attempt}")
        try:
            app, amount = _investment(received.get("payload") or {}, apps)
        except InvalidInput as refused:
            await ctx.artifacts.update(artifact["id"], {"error": refused.message})
            continue
        final = await ctx.artifacts.update(
            artifact["id"],
            {
                "selected_app": app,
                "investment_amount": amount,
                "status": "invested",
                "error": None,
                "buttons": [],
            },
        )
        return {"artifact_id": artifact["id"], "investment": final["state"]["selected_app"]}
    raise InvalidInput(f"no valid investment after {MAX_INVEST_ATTEMPTS} attempts")


def _investment(
    payload: dict[str, Any], apps: list[dict[str, Any]]
) -> tuple[dict[str, Any], float]:
    """The app (by artifact id or name) and the amount of an `invest` action."""
    wanted = payload.get("app")
    app = next((a for a in apps if wanted in (a["artifact_id"], a["name"])), None)
    if app is None:
        names = ", ".join(str(a["name"]) for a in apps) or "none yet: build one with AppBuilder"
        raise InvalidInput(f"invest needs payload.app, one of the listed apps ({names})")
    amount = payload.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
        raise InvalidInput("invest needs payload.amount, a number above 0")
    return app, round(float(amount), 2)


async def start_marketing(ctx: Context) -> dict[str, Any]:
    """MarketingAutomation, step 1 (gated: the user has completed AppBuilder). The dashboard
    artifact, for the app named in the input or the one whose button launched it."""
    launched_from = await _launching_artifact_state(ctx)
    default_name = str((launched_from or {}).get("app_name") or "your app")
    app_name = journey.text_field(ctx.state, "app_name", default_name)
    channels = journey.text_list(ctx.state, "channels", journey.MAX_CHANNELS)
    budget = journey.budget_of(ctx.state)
    artifact = await ctx.artifacts.create(
        "MarketingDashboard",
        {
            "app_name": app_name,
            "campaigns": [],
            "target_audience": None,
            "budget": budget,
            "channels": channels if channels is not None else list(journey.DEFAULT_CHANNELS),
        },
    )
    return {"artifact_id": artifact["id"], "app_name": app_name}


async def plan_campaigns(ctx: Context) -> dict[str, Any]:
    """MarketingAutomation, step 3: the audience the marketing agent described, and one
    draft campaign per channel with the budget split between them."""
    artifact_id = ctx.state["artifact_id"]
    current = await ctx.artifacts.get(artifact_id)
    state = current["state"]
    campaigns = journey.campaigns_for(state["app_name"], state["channels"], state["budget"])
    await ctx.artifacts.update(artifact_id, {"target_audience": ctx.state.get("audience")})
    final = await ctx.artifacts.update(artifact_id, {"campaigns": campaigns})
    return {"campaigns": final["state"]["campaigns"]}


async def challenge_tracker(ctx: Context) -> dict[str, Any]:
    """ChallengeTracker (Example 3): a multi-stage challenge; each `complete_step` action on
    its artifact completes the current stage, and the last one completes the challenge."""
    title = journey.text_field(ctx.state, "title", "Launch challenge")
    steps = journey.text_list(ctx.state, "steps", journey.MAX_CHALLENGE_STEPS)
    if steps is None:
        steps = list(journey.DEFAULT_CHALLENGE)
    if not steps:
        raise InvalidInput("input 'steps' is empty; name at least one step")
    first = {
        "title": title,
        "status": "in_progress",
        "buttons": [{"label": "Complete step", "action": "complete_step"}],
        **journey.challenge_update(steps, 0),
    }
    artifact = await ctx.artifacts.create("ChallengeTracker", first)
    for done in range(1, len(steps) + 1):
        await ctx.wait_for_action(artifact["id"], ["complete_step"], key=f"step:{done}")
        update = journey.challenge_update(steps, done)
        update["last_activity"] = time.time()
        if done == len(steps):
            update["completion_time"] = update["last_activity"]
        await ctx.artifacts.update(artifact["id"], update)
    return {"artifact_id": artifact["id"], "completed_steps": len(steps)}
