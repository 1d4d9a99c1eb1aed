"""Server caps: the most a flow, an agent or a workflow request may ask for.

Every limit a tenant chooses (steps, time, loop iterations, agent turns, discussion rounds,
fan-out) has a server-wide maximum in the settings. A definition asking for more is refused
(`LimitTooHigh`, answered 422 naming the cap and its setting) wherever it enters: over HTTP,
from a file or from Python. docs/security.md, "Server caps", lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from podium.errors import LimitTooHigh

if TYPE_CHECKING:
    from podium.config import Settings
    from podium.engine.flow import Flow
    from podium.engine.registry import Registry

# cap → the environment variable that sets it
SETTINGS = {
    "max_steps": "PODIUM_MAX_STEPS_CAP",
    "run_timeout_seconds": "PODIUM_RUN_TIMEOUT_CAP_SECONDS",
    "max_iterations": "PODIUM_MAX_ITERATIONS_CAP",
    "max_turns": "PODIUM_MAX_TURNS_CAP",
    "max_rounds": "PODIUM_MAX_ROUNDS_CAP",
    "max_fan_out": "PODIUM_MAX_FAN_OUT",
    "knowledge_k": "PODIUM_AGENT_KNOWLEDGE_K_CAP",
    "image_max_count": "PODIUM_IMAGE_MAX_COUNT",
    "budget_tokens": "PODIUM_MAX_BUDGET_TOKENS",
}


@dataclass(frozen=True, slots=True)
class Caps:
    max_steps: int = 10_000
    run_timeout_seconds: float = 86_400.0
    max_iterations: int = 1_000
    max_turns: int = 100
    max_rounds: int = 50
    # The most outgoing edges of one node (a router's targets included) and the most nodes
    # of one run executing at once.
    max_fan_out: int = 64
    # The most passages an agent retrieves from its knowledge at once (`knowledge.k`, and
    # `k` of a `search_knowledge` call).
    knowledge_k: int = 20
    image_max_count: int = 4  # the images one `image` node may ask for
    budget_tokens: int = 1_000_000_000  # the largest token cap (docs/budgets.md)

    @classmethod
    def from_settings(cls, settings: Settings) -> Caps:
        return cls(
            max_steps=settings.max_steps_cap,
            run_timeout_seconds=settings.run_timeout_cap_seconds,
            max_iterations=settings.max_iterations_cap,
            max_turns=settings.max_turns_cap,
            max_rounds=settings.max_rounds_cap,
            max_fan_out=settings.max_fan_out,
            knowledge_k=settings.agent_knowledge_k_cap,
            image_max_count=settings.image_max_count,
            budget_tokens=settings.max_budget_tokens,
        )


@dataclass(frozen=True, slots=True)
class OverCap:
    """One limit over its cap: `what` names it as the definition spells it."""

    what: str
    asked: Any
    cap_name: str
    cap: float

    @property
    def setting(self) -> str:
        return SETTINGS[self.cap_name]

    @property
    def message(self) -> str:
        return (
            f"{self.what} {_number(self.asked)} is over the server cap of {_number(self.cap)} "
            f"({self.setting})"
        )


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def over_cap(what: str, asked: Any, cap_name: str, caps: Caps) -> OverCap | None:
    """The problem when `asked` (a number, or None for unset) is over the cap."""
    cap = getattr(caps, cap_name)
    if isinstance(asked, bool) or not isinstance(asked, int | float) or asked <= cap:
        return None
    return OverCap(what, asked, cap_name, cap)


def refuse(problems: list[OverCap], *, hint: str = "") -> None:
    """Raise LimitTooHigh naming every limit over its cap (details: the first one's setting
    and cap, and every message)."""
    if not problems:
        return
    first = problems[0]
    messages = [problem.message for problem in problems]
    text = "; ".join(messages)
    raise LimitTooHigh(
        f"{text}; ask for less{hint}, or have the operator raise the setting",
        details={"setting": first.setting, "cap": first.cap, "problems": messages},
    )


def flow_over_caps(flow: Flow, caps: Caps, registry: Registry | None = None) -> list[OverCap]:
    """Every limit of `flow` over its cap: run limits, node timeouts and back-off, loop
    iterations, fan-out, and what each node type asks for (`NodeType.limit_requests`)."""
    from podium.engine.node_types import get_node_type

    found = [
        over_cap("limits.max_steps", flow.limits.max_steps, "max_steps", caps),
        over_cap(
            "limits.timeout_seconds", flow.limits.timeout_seconds, "run_timeout_seconds", caps
        ),
    ]
    outgoing: dict[str, int] = {}
    for edge in flow.edges:
        found.append(over_cap(f"edge {edge.label} max_iterations", edge.max_iterations,
                              "max_iterations", caps))  # fmt: skip
        outgoing[edge.source] = outgoing.get(edge.source, 0) + 1
    for node in flow.nodes:
        where = f"node {node.id!r}"
        found.append(over_cap(f"{where} timeout_seconds", node.timeout_seconds,
                              "run_timeout_seconds", caps))  # fmt: skip
        found.append(over_cap(f"{where} retry.backoff_seconds", node.retry.backoff_seconds,
                              "run_timeout_seconds", caps))  # fmt: skip
        found.append(over_cap(f"{where} outgoing edges", outgoing.get(node.id, 0),
                              "max_fan_out", caps))  # fmt: skip
        node_type = get_node_type(node.type, registry)
        if node_type is not None:
            for field, (asked, cap_name) in node_type.limit_requests(node).items():
                found.append(over_cap(f"{where} {field}", asked, cap_name, caps))
    return [problem for problem in found if problem is not None]


def check_flow_caps(flow: Flow, caps: Caps, registry: Registry | None = None) -> None:
    """Refuse `flow` (LimitTooHigh) when it asks for more than a cap allows."""
    refuse(flow_over_caps(flow, caps, registry), hint=f" in flow {flow.name!r}")


def run_limits(flow: Flow, settings: Settings) -> tuple[int, float]:
    """The steps and seconds a run of `flow` gets: what it asks for or the server's default,
    never more than the cap (a flow stored before a cap was lowered still runs within it)."""
    caps = Caps.from_settings(settings)
    max_steps = flow.limits.max_steps or settings.max_steps
    timeout = flow.limits.timeout_seconds or settings.run_timeout_seconds
    return min(max_steps, caps.max_steps), min(timeout, caps.run_timeout_seconds)
