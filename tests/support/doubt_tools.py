"""Tools with a declared effect, and nodes that call them as an agent does (through
`recorded_tool_call`), for the in-doubt tests: importable by workers in this process and in
child processes.

Every execution of a tool appends its idempotency key to the file named `log` in its
arguments, so a test counts executions across processes. While the file `gate` exists, the
tool blocks after that line (the test SIGKILLs the worker there).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from podium import Context
from podium.agents.loop import recorded_tool_call
from podium.agents.services import AgentServices
from podium.tools.base import Tool, ToolContext, tool


async def _execute(log: str, gate: str, ctx: ToolContext) -> int:
    with open(log, "a", encoding="utf-8") as file:
        file.write(f"{ctx.idempotency_key}\n")
    gate_path = Path(gate)
    if gate_path.exists():
        Path(gate + ".reached").write_text("in the call", encoding="utf-8")
        while gate_path.exists():  # the test kills the process here
            await asyncio.sleep(0.02)
    return len(Path(log).read_text(encoding="utf-8").splitlines())


@tool(effect="side_effect", registry=None)
async def send_payment(amount: int, log: str, gate: str, ctx: ToolContext) -> dict[str, Any]:
    """Send a payment (not safe to repeat).

    Args:
        amount: How much.
        log: The file each execution appends its idempotency key to.
        gate: While this file exists, the call blocks.
    """
    return {"paid": amount, "execution": await _execute(log, gate, ctx)}


def _paid_already(arguments: dict[str, Any], key: str) -> dict[str, Any] | None:
    """Asks the "payment provider" (the log) whether the payment with this key went out."""
    keys = Path(arguments["log"]).read_text(encoding="utf-8").split()
    if key in keys:
        return {"action": "done", "result": {"paid": arguments["amount"], "reconciled": True}}
    return None


@tool(effect="side_effect", reconcile=_paid_already, registry=None)
async def send_reconciled_payment(
    amount: int, log: str, gate: str, ctx: ToolContext
) -> dict[str, Any]:
    """Send a payment; a call left in doubt asks the provider first.

    Args:
        amount: How much.
        log: The file each execution appends its idempotency key to.
        gate: While this file exists, the call blocks.
    """
    return {"paid": amount, "execution": await _execute(log, gate, ctx)}


@tool(effect="idempotent", registry=None)
async def put_record(amount: int, log: str, gate: str, ctx: ToolContext) -> dict[str, Any]:
    """Store a record under the call's idempotency key (safe to repeat with the key).

    Args:
        amount: What to store.
        log: The file each execution appends its idempotency key to.
        gate: While this file exists, the call blocks.
    """
    return {"stored": amount, "execution": await _execute(log, gate, ctx)}


TOOLS: dict[str, Tool] = {t.name: t for t in (send_payment, send_reconciled_payment, put_record)}


async def call_tool(ctx: Context) -> dict[str, Any]:
    """Calls the tool `ctx.state["tool"]` once, as an agent's tool call, with the amount,
    log and gate of the state; its outcome is the node's output."""
    state = ctx.state
    used = TOOLS[state["tool"]]
    arguments = {"amount": state["amount"], "log": state["log"], "gate": state["gate"]}
    services = AgentServices(ctx.store, ctx.settings)
    outcome = await recorded_tool_call(
        ctx, services, "payer.t1.0", used.name, json.dumps(arguments), used, agent="payer"
    )
    return {"outcome": outcome.to_json()}
