"""Budgets (docs/budgets.md): the token caps of an app and of its sessions, and the app's
token usage per agent or per model. Viewers read; admins and owners set caps."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from podium.api.deps import AppAdmin, AppViewer, ServicesDep
from podium.engine.caps import Caps, over_cap, refuse
from podium.storage import budgets

router = APIRouter(prefix="/apps/{app_id}", tags=["budgets"])


class BudgetPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = Field(
        ge=1,
        strict=True,  # a whole number: not `true`, not "5"
        description="the token cap (at most PODIUM_MAX_BUDGET_TOKENS); null removes it",
    )


class BudgetPublic(BaseModel):
    scope: budgets.Scope
    subject_id: str
    max_tokens: int | None = Field(description="the cap; null: none")
    used_tokens: int = Field(description="the tokens the app's (or session's) LLM calls used")


class UsagePublic(BaseModel):
    group_by: Literal["agent", "model"]
    since: float | None
    items: list[dict[str, Any]]
    total_tokens: int
    calls: int
    estimated_cost: float | None = Field(
        description="from PODIUM_MODEL_PRICES (per million tokens); null when a model used "
        "has no price"
    )


def _check_cap(services: ServicesDep, max_tokens: int | None) -> None:
    caps = Caps.from_settings(services.settings)
    problem = over_cap("max_tokens", max_tokens, "budget_tokens", caps)
    refuse([problem] if problem else [], hint=" for the budget")


async def _budget(
    services: ServicesDep, app_id: str, scope: budgets.Scope, subject_id: str
) -> BudgetPublic:
    store = services.podium.store
    cap = await store.run_read(lambda: budgets.get_cap(app_id, scope, subject_id))
    used = await store.run_read(lambda: budgets.used_tokens(app_id, scope, subject_id))
    return BudgetPublic(scope=scope, subject_id=subject_id, max_tokens=cap, used_tokens=used)


async def _put(
    services: ServicesDep, app_id: str, scope: budgets.Scope, subject_id: str, body: BudgetPut
) -> BudgetPublic:
    _check_cap(services, body.max_tokens)
    now = time.time()
    await services.podium.store.run_script(
        lambda: budgets.set_cap(app_id, scope, subject_id, body.max_tokens, now)
    )
    return await _budget(services, app_id, scope, subject_id)


@router.get("/budget")
async def get_app_budget(access: AppViewer, services: ServicesDep) -> BudgetPublic:
    """The app's token cap and the tokens its LLM calls used so far."""
    return await _budget(services, access.app_id, "app", access.app_id)


@router.put("/budget")
async def put_app_budget(body: BudgetPut, access: AppAdmin, services: ServicesDep) -> BudgetPublic:
    """Set the app's token cap (null removes it). A run waiting on the app's cap goes on once
    its decision is answered `{"action": "resume"}`."""
    return await _put(services, access.app_id, "app", access.app_id, body)


@router.get("/sessions/{session_id}/budget")
async def get_session_budget(
    session_id: str, access: AppViewer, services: ServicesDep
) -> BudgetPublic:
    await services.sessions.get_session(access.app_id, session_id)  # 404 outside the app
    return await _budget(services, access.app_id, "session", session_id)


@router.put("/sessions/{session_id}/budget")
async def put_session_budget(
    session_id: str, body: BudgetPut, access: AppAdmin, services: ServicesDep
) -> BudgetPublic:
    """Set the session's token cap (null removes it)."""
    await services.sessions.get_session(access.app_id, session_id)  # 404 outside the app
    return await _put(services, access.app_id, "session", session_id, body)


@router.get("/usage")
async def get_usage(
    access: AppViewer,
    services: ServicesDep,
    group_by: Annotated[
        Literal["agent", "model"], Query(description="`agent` or `model`")
    ] = "agent",
    since: Annotated[
        float | None,
        Query(ge=0, allow_inf_nan=False, description="only calls at or after this Unix time"),
    ] = None,
) -> UsagePublic:
    """The app's LLM token usage, per agent or per model: calls, input, output and total
    tokens, and the estimated cost (a call the engine replayed is counted once: it ran once)."""
    app_id = access.app_id
    prices = {
        model: (price.input, price.output)
        for model, price in services.settings.model_prices.items()
    }
    items = await services.podium.store.run_read(
        lambda: budgets.usage_by(app_id, group_by, since, prices)
    )
    costs = [item["estimated_cost"] for item in items]
    return UsagePublic(
        group_by=group_by,
        since=since,
        items=items,
        total_tokens=sum(item["total_tokens"] for item in items),
        calls=sum(item["calls"] for item in items),
        estimated_cost=None if None in costs else round(sum(costs), 6),
    )
