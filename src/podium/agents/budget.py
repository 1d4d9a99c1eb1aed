"""Token budgets (docs/budgets.md): before each LLM call an agent checks the tokens its run,
session and app used so far against their caps; a cap reached, the run waits for a decision
(an interrupt of kind `budget`) after a `budget.exceeded` event, never fails silently.

The check runs only for a call that has not been recorded: a replayed call is neither
checked again nor run again. Each answered decision is itself a recorded call, so a step
that runs again after the answer meets the same decisions in the same order.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from podium.errors import RunCancelled
from podium.events import names
from podium.ids import new_id
from podium.llm.base import ModelResponse
from podium.storage import budgets
from podium.storage.budgets import DECISION_SCHEMA, Scope, UsageRecord

if TYPE_CHECKING:
    from podium.agents.definition import AgentDefinition
    from podium.engine.context import Context

ORDER: tuple[Scope, ...] = ("run", "session", "app")


async def check_budget(ctx: Context, agent: AgentDefinition, key: str) -> None:
    """Return when no cap is reached; else emit `budget.exceeded` and wait for a decision
    (`raise` sets the reached cap, `resume` checks again, `cancel` cancels the run)."""
    store = ctx.store
    app_id, session_id, run_id = ctx.app_id, ctx.session_id, ctx.run_id
    subjects: dict[Scope, str] = {"run": run_id, "session": session_id, "app": app_id}
    while True:
        caps = await store.run_read(lambda: budgets.caps(app_id, session_id, run_id))
        if "run" not in caps and agent.limits is not None and agent.limits.max_tokens:
            caps["run"] = agent.limits.max_tokens
        if not caps:
            return
        used = await store.run_read(lambda: budgets.usage_so_far(app_id, session_id, run_id))
        reached = next((s for s in ORDER if s in caps and used[s] >= caps[s]), None)
        if reached is None:
            return
        limit, spent = caps[reached], used[reached]
        ctx.emit(
            names.BUDGET_EXCEEDED,
            {
                "scope": reached,
                "max_tokens": limit,
                "used_tokens": spent,
                "agent": agent.name,
                "node_id": ctx.node_id,
            },
        )
        decision = await ctx.ask_user(
            f"The {reached}'s token budget is used up: {spent} tokens used of its cap of "
            f"{limit}, before agent {agent.name!r}'s next LLM call. Raise the cap "
            '({"action": "raise", "max_tokens": N}), go on once it was raised through its '
            'route ({"action": "resume"}) or cancel the run ({"action": "cancel"}).',
            schema=DECISION_SCHEMA,
            key=f"{key}.budget",
            kind="budget",
        )
        action = decision.get("action") if isinstance(decision, dict) else None
        if action == "cancel":
            await store.cancel_run(run_id, app_id=app_id)
            raise RunCancelled(f"run {run_id} was cancelled: its {reached} token budget")
        if action == "raise":
            await _set_cap(ctx, reached, subjects[reached], int(decision["max_tokens"]))
        # `resume` (or a raise not above the usage): check again, and ask again if need be.


async def _set_cap(ctx: Context, scope: Scope, subject_id: str, max_tokens: int) -> None:
    app_id, now = ctx.app_id, time.time()
    await ctx.store.run_script(lambda: budgets.set_cap(app_id, scope, subject_id, max_tokens, now))


async def record_usage(
    ctx: Context, agent: AgentDefinition, key: str, model: str, response: ModelResponse
) -> None:
    """Log the tokens of an LLM call a provider answered (before it is recorded)."""
    record = UsageRecord(
        id=new_id("use"),
        app_id=ctx.app_id,
        session_id=ctx.session_id,
        run_id=ctx.run_id,
        node_id=ctx.node_id,
        call_key=key,
        agent=agent.name,
        model=model,
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
        created_at=time.time(),
    )
    await ctx.store.run_script(lambda: budgets.record_usage(record))
