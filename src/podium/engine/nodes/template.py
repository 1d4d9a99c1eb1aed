"""`template`: renders a Jinja2 template over the state into text.

Every template of a flow (template nodes, agent and collaboration nodes, the workflow drawing)
renders through `render` or `render_async`, under a time budget
(`PODIUM_TEMPLATE_TIMEOUT_SECONDS`) and an output-size budget
(`PODIUM_TEMPLATE_MAX_OUTPUT_CHARS`); docs/security.md, "Templates", says how.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateRuntimeError, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from pydantic import BaseModel, ConfigDict

from podium.engine.node_types import NodeResult, NodeType
from podium.engine.template_pool import RenderFailed, RenderPool
from podium.engine.templating import (
    OutputTooLong,
    compile_template,
    parse_template,
    referenced_names,
    render_bounded,
    renders_inline,
)
from podium.errors import LimitExceeded

if TYPE_CHECKING:
    from podium.config import Settings
    from podium.engine.context import Context
    from podium.engine.flow import Flow, Node

__all__ = [
    "TemplateBudget",
    "TemplateOverBudget",
    "compile_template",
    "parse_template",
    "render",
    "render_async",
    "renders_inline",
]

# Render processes at once; more renders wait for a free one (in their own threads, so that
# they never hold the threads the rest of the server runs blocking work in).
POOL_SIZE = 2


class TemplateOverBudget(LimitExceeded):
    """A template that passed its time or output-size budget (the node fails with this)."""


@dataclass(frozen=True, slots=True)
class TemplateBudget:
    timeout_seconds: float = 1.0
    max_output_chars: int = 262_144

    @classmethod
    def from_settings(cls, settings: Settings) -> TemplateBudget:
        return cls(settings.template_timeout_seconds, settings.template_max_output_chars)

    def too_long(self) -> TemplateOverBudget:
        return TemplateOverBudget(
            f"the template's output passed the output-size budget of {self.max_output_chars} "
            "characters; make it shorter or raise PODIUM_TEMPLATE_MAX_OUTPUT_CHARS"
        )

    def too_slow(self) -> TemplateOverBudget:
        return TemplateOverBudget(
            f"the template ran past its time budget of {self.timeout_seconds:g}s (a loop or "
            "an expression doing too much work); simplify it or raise "
            "PODIUM_TEMPLATE_TIMEOUT_SECONDS"
        )


_pool: RenderPool | None = None
_threads: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _shared() -> tuple[RenderPool, ThreadPoolExecutor]:
    global _pool, _threads
    with _lock:
        if _pool is None or _threads is None:
            _pool = RenderPool(POOL_SIZE)
            _threads = ThreadPoolExecutor(POOL_SIZE, thread_name_prefix="podium-template")
            atexit.register(_pool.close)
        return _pool, _threads


def _context(source: str, state: dict[str, Any]) -> dict[str, Any]:
    return {**state, "state": state}


def _render_in_process(source: str, state: dict[str, Any], budget: TemplateBudget) -> str:
    names = referenced_names(source)
    # Only what the template reads crosses to the render process (the state may be large).
    sent = state if names is None else {key: state[key] for key in names if key in state}
    pool, _ = _shared()
    try:
        return pool.render(
            source, _context(source, sent), budget.timeout_seconds, budget.max_output_chars
        )
    except RenderFailed as exc:
        if exc.kind == "time":
            raise budget.too_slow() from None
        if exc.kind in ("output", "memory"):
            raise budget.too_long() from None
        if exc.kind == "recursion":
            raise TemplateOverBudget(
                "the template recursed too deeply (a macro calling itself without end); "
                "bound its recursion"
            ) from None
        if exc.kind == "start":
            raise TemplateOverBudget("a template render process could not start") from None
        raise _template_error(exc.error_type, str(exc)) from None


def _template_error(error_type: str, message: str) -> Exception:
    """The template's own error as it would have been raised here."""
    if error_type == "UndefinedError":
        return UndefinedError(message)
    if error_type == "SecurityError":
        return SecurityError(message)
    if error_type == "TemplateSyntaxError":
        return TemplateSyntaxError(message, 1)
    return TemplateRuntimeError(f"{error_type}: {message}" if error_type else message)


def render(source: str, state: dict[str, Any], budget: TemplateBudget | None = None) -> str:
    """A template over the state: its keys by name (`{{ name }}`) or as `{{ state.name }}`.

    Blocks the calling thread for at most the time budget; code on the event loop uses
    `render_async`.
    """
    budget = budget or TemplateBudget()
    if not renders_inline(source):
        return _render_in_process(source, state, budget)
    try:
        return render_bounded(
            compile_template(source), _context(source, state), budget.max_output_chars
        )
    except OutputTooLong:
        raise budget.too_long() from None


async def render_async(
    source: str, state: dict[str, Any], budget: TemplateBudget | None = None
) -> str:
    """`render` that never blocks the event loop: a template that is cheap by construction
    renders here at once, any other in a render process waited for from a thread."""
    budget = budget or TemplateBudget()
    if renders_inline(source):
        return render(source, state, budget)
    _, threads = _shared()
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(threads, _render_in_process, source, state, budget)


class TemplateConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    template: str
    output_key: str = "text"


class TemplateNode(NodeType):
    name = "template"
    description = "Renders a Jinja2 template over the state (`{{ name }}` or `{{ state.name }}`)."
    config_model = TemplateConfig
    output_schema = {"type": "object", "description": "{output_key: rendered text}"}

    def check(self, node: Node, flow: Flow, base_path: Path | None) -> list[str]:
        try:
            parse_template(str(node.config.get("template", "")))
        except TemplateSyntaxError as exc:
            return [f"node {node.id!r}: template syntax error on line {exc.lineno}: {exc.message}"]
        return []

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        budget = TemplateBudget.from_settings(ctx.settings)
        text = await render_async(config.template, ctx.state, budget)
        return NodeResult(output={config.output_key: text})
