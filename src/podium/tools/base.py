"""Tools: Python functions an agent may call, with a JSON schema derived from their type hints.

    @tool
    async def lookup_order(order_id: str, include_items: bool = False) -> dict:
        '''Find an order by its id.

        Args:
            order_id: The order's id, e.g. "ord_123".
            include_items: Whether to list the order's items.
        '''

The schema comes from the signature through pydantic; descriptions from the docstring (its
first paragraph for the tool, its `Args:` section for the parameters, or `Annotated[…,
Field(description=…)]`). A parameter annotated `ToolContext` is given the call's context and
is not part of the schema. A model's bad arguments (not JSON, wrong types, missing fields)
become an error result the model reads, never an exception; every call has a timeout.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import time
import types
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    Literal,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    overload,
)

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from podium import jsonvalue
from podium.effects import Effect, check_effect
from podium.errors import JSONValueInvalid
from podium.llm.base import ToolSpec

if TYPE_CHECKING:
    from podium.tools.knowledge import AgentKnowledge
    from podium.tools.session import SessionAccess

ToolStatus = Literal["ok", "error", "skipped"]
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what every provider accepts
CredentialsLookup = Callable[[str], Awaitable[dict[str, Any] | None]]


class ToolSkipped(Exception):
    """Raised by a tool that did not run, e.g. `ToolSkipped("hubspot not configured")`."""


@dataclass(slots=True)
class ToolContext:
    """What a tool may know of the call: who calls it, the app's integration settings, and
    in a run the session's artifact ids and `session` (what the session tools act through),
    and for an agent with knowledge `knowledge` (what `search_knowledge` acts through)."""

    app_id: str
    session_id: str | None = None
    run_id: str | None = None
    node_id: str | None = None
    agent: str | None = None
    call_key: str | None = None  # the recorded call that runs the tool
    credentials_lookup: CredentialsLookup | None = None
    artifact_ids: tuple[str, ...] = ()  # the artifacts attached to the session
    session: SessionAccess | None = None
    knowledge: AgentKnowledge | None = None
    # The same for every attempt of this call (after a crash, a retry): pass it on to a
    # service that deduplicates by key (docs/side-effects.md).
    idempotency_key: str | None = None

    async def credentials(self, service: str) -> dict[str, Any] | None:
        """The app's (or the server's) settings for an integration, or None when it has none."""
        if self.credentials_lookup is None:
            return None
        return await self.credentials_lookup(service)


@dataclass(slots=True)
class ToolOutcome:
    """One execution: `result` (JSON) when ok, `error` otherwise, and how long it took."""

    status: ToolStatus
    result: Any = None
    error: str | None = None
    duration_ms: float = 0.0

    def for_model(self) -> str:
        """The tool message the model reads."""
        if self.status == "ok":
            return self.result if isinstance(self.result, str) else json.dumps(self.result)
        if self.status == "skipped":
            return f"skipped: {self.error}"
        return f"error: {self.error}"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "result": self.result,
            "error": self.error,
            "duration_ms": self.duration_ms,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ToolOutcome:
        return cls(data["status"], data.get("result"), data.get("error"), data["duration_ms"])


Invoke = Callable[[dict[str, Any], ToolContext], Awaitable[Any]]
# `reconcile(arguments, idempotency_key)`: asked when a `side_effect` call was left in doubt;
# returns the answer to its in_doubt question (`{"action": "done", "result": …}`, `retry`,
# `fail`) or None when it cannot tell (then a person is asked).
Reconcile = Callable[[dict[str, Any], str], Any]


@dataclass(slots=True)
class Tool:
    """A callable tool. `invoke(arguments, ctx)` gets validated arguments."""

    name: str
    description: str
    parameters: dict[str, Any]
    invoke_fn: Invoke
    requires_approval: bool = False
    timeout_seconds: float | None = None
    source: str = "python"  # "python", or "mcp:<server>"
    args_model: type[BaseModel] | None = None
    tags: tuple[str, ...] = ()
    origin: str | None = None  # `module:qualname` of a Python tool's function
    # `read`, `idempotent` or `side_effect`; None (undeclared) behaves like `idempotent`
    # without the promise: a call whose result was not recorded runs again.
    effect: Effect | None = None
    reconcile: Reconcile | None = None

    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)

    def parse_arguments(self, text: str) -> dict[str, Any]:
        """The model's argument text as validated arguments; ValueError says what is wrong."""
        try:  # the one JSON boundary: a model's arguments are no deeper than any other JSON
            raw = jsonvalue.loads(text, f"the arguments of {self.name}") if text.strip() else {}
        except JSONValueInvalid as exc:
            raise ValueError(
                f"{exc.message}; send a JSON object matching the tool's schema"
            ) from None
        if not isinstance(raw, dict):
            raise ValueError(f"the arguments of {self.name} must be a JSON object")
        if self.args_model is None:
            return raw
        try:
            return self.args_model.model_validate(raw).model_dump(mode="json")
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ValueError(f"bad arguments for {self.name}: {problems}") from None

    async def execute(
        self, arguments_text: str, ctx: ToolContext, *, default_timeout: float = 30.0
    ) -> ToolOutcome:
        """Parse, validate and run; never raises for the tool's own failures."""
        started = time.perf_counter()

        def took() -> float:
            return round((time.perf_counter() - started) * 1000, 3)

        try:
            arguments = self.parse_arguments(arguments_text)
        except ValueError as exc:
            return ToolOutcome("error", error=str(exc), duration_ms=took())
        limit = self.timeout_seconds or default_timeout
        try:
            async with asyncio.timeout(limit):
                result = await self.invoke_fn(arguments, ctx)
        except ToolSkipped as exc:
            return ToolOutcome("skipped", error=str(exc), duration_ms=took())
        except TimeoutError:
            return ToolOutcome(
                "error",
                error=f"{self.name} took longer than its timeout of {limit:g}s",
                duration_ms=took(),
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the tool failed: the model is told, the agent goes on
            message = str(exc) or type(exc).__name__
            return ToolOutcome(
                "error", error=f"{type(exc).__name__}: {message}", duration_ms=took()
            )
        try:  # the one JSON boundary: the result is recorded, and the model reads it
            jsonvalue.check_value(result, f"the result of {self.name}")
        except JSONValueInvalid as exc:
            return ToolOutcome("error", error=exc.message, duration_ms=took())
        return ToolOutcome("ok", result=result, duration_ms=took())


class ToolRegistry:
    """Tools by name. `DEFAULT` holds every `@tool` of the process."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.add(item)

    def add(self, item: Tool, *, replace: bool = False) -> Tool:
        """Register `item`. A name taken by another tool is refused, unless `replace`; the
        same function decorated again (its module imported twice) replaces itself."""
        if not NAME_PATTERN.match(item.name):
            raise ValueError(
                f"tool name {item.name!r} must be 1-64 letters, digits, '_' or '-' "
                "(what model providers accept)"
            )
        existing = self._tools.get(item.name)
        if existing is not None and existing is not item and not replace:
            same = existing.origin is not None and existing.origin == item.origin
            if not same:
                raise ValueError(
                    f"a tool named {item.name!r} is already registered (from "
                    f"{existing.origin or existing.source}); give this one another name"
                )
        self._tools[item.name] = item
        return item

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return sorted(self._tools)

    def all(self) -> list[Tool]:
        return [self._tools[name] for name in sorted(self._tools)]

    def __contains__(self, name: object) -> bool:
        return name in self._tools


DEFAULT = ToolRegistry()


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    requires_approval: bool = False,
    timeout: float | None = None,
    registry: ToolRegistry | None = DEFAULT,
    tags: Iterable[str] = (),
    effect: Effect | None = None,
    reconcile: Reconcile | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    requires_approval: bool = False,
    timeout: float | None = None,
    registry: ToolRegistry | None = DEFAULT,
    tags: Iterable[str] = (),
    effect: Effect | None = None,
    reconcile: Reconcile | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a function a tool (and register it, in `DEFAULT` unless told otherwise).

    `effect` declares what a call does outside (docs/side-effects.md): `read`, `idempotent`
    or `side_effect` (a call left in doubt by a crash is not run again blindly: the step
    waits for a decision, asking `reconcile(arguments, idempotency_key)` first)."""

    def wrap(function: Callable[..., Any]) -> Tool:
        made = function_tool(
            function,
            name=name,
            description=description,
            requires_approval=requires_approval,
            timeout=timeout,
            tags=tuple(tags),
            effect=effect,
            reconcile=reconcile,
        )
        if registry is not None:
            registry.add(made)
        return made

    return wrap(fn) if fn is not None else wrap


def function_tool(
    function: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    requires_approval: bool = False,
    timeout: float | None = None,
    tags: tuple[str, ...] = (),
    effect: Effect | None = None,
    reconcile: Reconcile | None = None,
) -> Tool:
    """A Tool from a function's signature and docstring (not registered)."""
    check_effect(effect)
    if reconcile is not None and effect != "side_effect":
        raise ValueError(
            f"tool {name or function.__name__}: reconcile is for effect='side_effect' only"
        )
    summary, arg_docs = parse_docstring(inspect.getdoc(function) or "")
    hints = get_type_hints(function, include_extras=True)
    fields: dict[str, Any] = {}
    context_param: str | None = None
    for param in inspect.signature(function).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"tool {function.__name__}: *args and **kwargs have no schema")
        annotation = hints.get(param.name, Any)
        if annotation is ToolContext or _is_optional_of(annotation, ToolContext):
            context_param = param.name
            continue
        default = ... if param.default is param.empty else param.default
        doc = arg_docs.get(param.name)
        fields[param.name] = (annotation, Field(default, description=doc) if doc else default)
    model = create_model(
        f"{function.__name__}_arguments",
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    is_async = inspect.iscoroutinefunction(function)

    async def invoke(arguments: dict[str, Any], ctx: ToolContext) -> Any:
        # The function gets the types it declares (a pydantic model, not its JSON dump).
        validated = model.model_validate(arguments)
        kwargs = {name: getattr(validated, name) for name in fields}
        if context_param is not None:
            kwargs[context_param] = ctx
        if is_async:
            return await function(**kwargs)
        return await asyncio.to_thread(function, **kwargs)

    return Tool(
        name=name or function.__name__,
        description=description or summary or function.__name__.replace("_", " "),
        parameters=schema,
        invoke_fn=invoke,
        requires_approval=requires_approval,
        timeout_seconds=timeout,
        args_model=model,
        tags=tags,
        origin=f"{function.__module__}:{function.__qualname__}",
        effect=effect,
        reconcile=reconcile,
    )


def _is_optional_of(annotation: Any, kind: type) -> bool:
    """Whether `annotation` is `kind | None` (or `Optional[kind]`)."""
    arguments = get_args(annotation)
    return (
        get_origin(annotation) in (Union, types.UnionType)
        and kind in arguments
        and all(a is kind or a is type(None) for a in arguments)
    )


_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """(first paragraph, {argument: description}) from a Google-style docstring."""
    paragraphs = doc.strip().split("\n\n")
    summary = " ".join(paragraphs[0].split()) if paragraphs and paragraphs[0] else ""
    args: dict[str, str] = {}
    in_args = False
    current: str | None = None
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            in_args, current = True, None
            continue
        if not in_args:
            continue
        if stripped.endswith(":") and not line.startswith((" ", "\t")):
            break  # the next section (Returns:, Raises:)
        if not stripped:
            continue
        match = _ARG_LINE.match(line)
        indent = len(line) - len(line.lstrip())
        if match and (current is None or indent <= _indent_of(doc, current)):
            current = match.group(1)
            args[current] = match.group(2).strip()
        elif current is not None:
            args[current] = f"{args[current]} {stripped}".strip()
    return summary, args


def _indent_of(doc: str, arg: str) -> int:
    for line in doc.splitlines():
        if line.strip().startswith(f"{arg}:") or line.strip().startswith(f"{arg} ("):
            return len(line) - len(line.lstrip())
    return 0


@dataclass(slots=True)
class ToolSet:
    """The tools one agent may use (its allow-list, resolved): nothing else is callable."""

    tools: dict[str, Tool] = field(default_factory=dict)

    def specs(self) -> list[ToolSpec]:
        return [self.tools[name].spec() for name in sorted(self.tools)]

    def get(self, name: str) -> Tool | None:
        return self.tools.get(name)
