"""Tools from Python functions: the schema a model sees, the context a tool gets, and how
every failure of a call (bad arguments, an exception, a timeout, a result that is not JSON)
becomes a result the model can read instead of an exception."""

from __future__ import annotations

import asyncio
import math
import threading
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

from podium.tools.base import (
    DEFAULT,
    Tool,
    ToolContext,
    ToolOutcome,
    ToolRegistry,
    ToolSet,
    ToolSkipped,
    function_tool,
    parse_docstring,
    tool,
)


class Address(BaseModel):
    city: str
    postcode: str | None = None


@tool(registry=None)
async def t_book_visit(
    name: str,
    guests: int,
    confirmed: bool,
    tags: list[str],
    note: str | None,
    address: Address,
    ctx: ToolContext,
    floor: Annotated[int, Field(description="Which floor, 0 for the ground floor.")] = 0,
) -> dict[str, Any]:
    """Book a visit for a guest
    at the office.

    Nobody reads this paragraph but people.

    Args:
        name: The guest's full name,
            as on their ID.
        guests (int): How many people come.
        confirmed: Whether the guest confirmed.

    Returns:
        The booking.
    """
    return {"name": name, "guests": guests, "city": address.city, "app": ctx.app_id}


def context() -> ToolContext:
    return ToolContext(app_id="app_1", session_id="ses_1", run_id="run_1", agent="helper")


GOOD = (
    '{"name": "Ada", "guests": 2, "confirmed": true, "tags": ["vip"], "note": null, '
    '"address": {"city": "Paris"}}'
)


# --- the schema -------------------------------------------------------------------------


def test_the_schema_comes_from_the_type_hints() -> None:
    schema = t_book_visit.parameters
    properties = schema["properties"]
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert properties["name"]["type"] == "string"
    assert properties["guests"]["type"] == "integer"
    assert properties["confirmed"]["type"] == "boolean"
    assert properties["tags"] == {"type": "array", "items": {"type": "string"}}
    assert properties["note"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert properties["address"] == {"$ref": "#/$defs/Address"}
    assert schema["$defs"]["Address"]["required"] == ["city"]
    assert properties["floor"]["type"] == "integer" and properties["floor"]["default"] == 0
    # parameters without a default are required; the one with a default is not
    assert schema["required"] == ["name", "guests", "confirmed", "tags", "note", "address"]
    assert all("title" not in prop for prop in properties.values())
    assert "title" not in schema


def test_the_context_parameter_is_not_in_the_schema() -> None:
    assert "ctx" not in t_book_visit.parameters["properties"]
    assert "ctx" not in t_book_visit.parameters["required"]


def test_descriptions_come_from_the_docstring_and_annotated_fields() -> None:
    assert t_book_visit.description == "Book a visit for a guest at the office."
    properties = t_book_visit.parameters["properties"]
    assert properties["name"]["description"] == "The guest's full name, as on their ID."
    assert properties["guests"]["description"] == "How many people come."
    assert properties["confirmed"]["description"] == "Whether the guest confirmed."
    assert properties["floor"]["description"] == "Which floor, 0 for the ground floor."
    assert "description" not in properties["tags"]  # not documented: none made up


def test_the_decorator_takes_a_name_a_description_and_options() -> None:
    @tool(
        name="t-renamed",
        description="Said otherwise.",
        requires_approval=True,
        timeout=3,
        registry=None,
        tags=["a", "b"],
    )
    def original() -> str:
        """The docstring's summary."""
        return "x"

    assert isinstance(original, Tool)
    assert original.name == "t-renamed"
    assert original.description == "Said otherwise."
    assert original.requires_approval is True
    assert original.timeout_seconds == 3
    assert original.tags == ("a", "b")
    assert original.source == "python"
    assert original.spec().name == "t-renamed"
    assert original.spec().parameters == {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
    }


def test_a_function_without_a_docstring_is_described_by_its_name() -> None:
    def look_up_weather(city: str) -> str:
        return city

    assert function_tool(look_up_weather).description == "look up weather"


def test_star_args_have_no_schema() -> None:
    def spread(*values: int) -> int:
        return sum(values)

    with pytest.raises(TypeError, match=r"tool spread: \*args and \*\*kwargs have no schema"):
        function_tool(spread)


def test_parse_docstring_stops_at_the_next_section() -> None:
    summary, args = parse_docstring(
        "Send it.\n\nArgs:\n    to: Who gets it.\n    body: What it says,\n"
        "        in full.\n\nRaises:\n    ValueError: never.\n"
    )
    assert summary == "Send it."
    assert args == {"to": "Who gets it.", "body": "What it says, in full."}


# --- execution --------------------------------------------------------------------------


async def test_valid_arguments_run_the_tool_with_the_context_injected() -> None:
    outcome = await t_book_visit.execute(GOOD, context())
    assert outcome.status == "ok", outcome.error
    assert outcome.result == {"name": "Ada", "guests": 2, "city": "Paris", "app": "app_1"}
    assert outcome.error is None
    assert outcome.duration_ms >= 0
    assert outcome.for_model() == '{"name": "Ada", "guests": 2, "city": "Paris", "app": "app_1"}'


async def test_the_tool_sees_the_whole_context_and_its_credentials() -> None:
    seen: list[ToolContext] = []

    @tool(registry=None)
    async def t_whoami(context: ToolContext) -> dict[str, Any] | None:
        seen.append(context)
        return await context.credentials("hubspot")

    async def lookup(service: str) -> dict[str, Any] | None:
        return {"service": service, "token": "t"}

    ctx = ToolContext("app_9", "ses_9", "run_9", "node_9", "agent_9", "key_9", lookup)
    outcome = await t_whoami.execute("", ctx)
    assert outcome.status == "ok"
    assert outcome.result == {"service": "hubspot", "token": "t"}
    assert seen == [ctx]
    assert await ToolContext("app_9").credentials("hubspot") is None


async def test_a_sync_function_runs_in_a_thread() -> None:
    threads: list[int] = []

    @tool(registry=None)
    def t_blocking(value: int) -> int:
        threads.append(threading.get_ident())
        return value * 2

    outcome = await t_blocking.execute('{"value": 21}', context())
    assert outcome.status == "ok" and outcome.result == 42
    assert threads and threads[0] != threading.get_ident()


async def test_empty_arguments_mean_no_arguments() -> None:
    @tool(registry=None)
    async def t_ping() -> str:
        return "pong"

    outcome = await t_ping.execute("  ", context())
    assert (outcome.status, outcome.result, outcome.for_model()) == ("ok", "pong", "pong")


async def test_arguments_that_are_not_json_are_an_error_the_model_can_read() -> None:
    outcome = await t_book_visit.execute('{"name": "Ada", ', context())
    assert outcome.status == "error"
    assert outcome.error == (
        "the arguments of t_book_visit: not valid JSON (Expecting property name enclosed "
        "in double quotes at position 16); send a JSON object matching the tool's schema"
    )
    assert outcome.for_model() == f"error: {outcome.error}"


async def test_arguments_that_are_not_an_object_are_an_error() -> None:
    outcome = await t_book_visit.execute("[1, 2]", context())
    assert outcome.status == "error"
    assert outcome.error == "the arguments of t_book_visit must be a JSON object"


async def test_wrong_types_missing_and_extra_fields_are_listed_by_field() -> None:
    outcome = await t_book_visit.execute(
        '{"name": 7, "guests": "many", "confirmed": true, "tags": [], "note": null, '
        '"address": {}, "colour": "red"}',
        context(),
    )
    assert outcome.status == "error"
    assert outcome.error is not None
    assert outcome.error.startswith("bad arguments for t_book_visit: ")
    problems = outcome.error.removeprefix("bad arguments for t_book_visit: ").split("; ")
    assert problems == [
        "name: Input should be a valid string",
        "guests: Input should be a valid integer, unable to parse string as an integer",
        "address.city: Field required",
        "colour: Extra inputs are not permitted",
    ]


async def test_a_missing_field_is_named() -> None:
    outcome = await t_book_visit.execute('{"name": "Ada"}', context())
    assert outcome.status == "error"
    assert outcome.error == (
        "bad arguments for t_book_visit: guests: Field required; confirmed: Field required; "
        "tags: Field required; note: Field required; address: Field required"
    )


async def test_a_tool_that_raises_is_an_error_naming_the_exception() -> None:
    @tool(registry=None)
    async def t_explodes(value: int) -> int:
        raise ValueError(f"no value {value} here")

    @tool(registry=None)
    def t_explodes_quietly() -> None:
        raise RuntimeError

    loud = await t_explodes.execute('{"value": 3}', context())
    assert (loud.status, loud.error) == ("error", "ValueError: no value 3 here")
    assert loud.for_model() == "error: ValueError: no value 3 here"
    quiet = await t_explodes_quietly.execute("{}", context())
    assert (quiet.status, quiet.error) == ("error", "RuntimeError: RuntimeError")


async def test_tool_skipped_is_a_skipped_outcome() -> None:
    @tool(registry=None)
    async def t_not_connected() -> str:
        raise ToolSkipped("hubspot is not configured")

    outcome = await t_not_connected.execute("{}", context())
    assert (outcome.status, outcome.error) == ("skipped", "hubspot is not configured")
    assert outcome.for_model() == "skipped: hubspot is not configured"


async def test_a_call_longer_than_its_timeout_is_an_error_naming_the_timeout() -> None:
    release = asyncio.Event()

    @tool(registry=None, timeout=0.05)
    async def t_stuck() -> str:
        await release.wait()
        return "never"

    @tool(registry=None)
    async def t_stuck_default() -> str:
        await release.wait()
        return "never"

    own = await t_stuck.execute("{}", context(), default_timeout=30)
    assert (own.status, own.error) == ("error", "t_stuck took longer than its timeout of 0.05s")
    default = await t_stuck_default.execute("{}", context(), default_timeout=0.05)
    assert default.status == "error"
    assert default.error == "t_stuck_default took longer than its timeout of 0.05s"


async def test_a_result_that_is_not_json_is_an_error() -> None:
    @tool(registry=None)
    async def t_returns_an_object() -> object:
        return object()

    @tool(registry=None)
    async def t_returns_nan() -> float:
        return math.nan

    @tool(registry=None)
    async def t_returns_deep() -> list[Any]:
        deep: list[Any] = []
        for _ in range(5_000):
            deep = [deep]
        return deep

    outcome = await t_returns_an_object.execute("{}", context())
    assert outcome.status == "error"
    assert outcome.error == (
        "the result of t_returns_an_object: a value of type object is not JSON; use a string, "
        "number, boolean, null, list or object"
    )
    nan = await t_returns_nan.execute("{}", context())
    assert (nan.status, nan.error) == (
        "error",
        "the result of t_returns_nan: nan is not a JSON number (NaN and Infinity are refused)",
    )
    deep = await t_returns_deep.execute("{}", context())
    assert deep.status == "error"
    assert deep.error is not None and deep.error.endswith("nested deeper than 64 levels")


def test_an_outcome_survives_a_json_round_trip() -> None:
    outcome = ToolOutcome("ok", {"a": [1, 2]}, None, 1.5)
    assert ToolOutcome.from_json(outcome.to_json()) == outcome
    failed = ToolOutcome("error", None, "ValueError: x", 0.25)
    assert ToolOutcome.from_json(failed.to_json()) == failed


# --- the registry -----------------------------------------------------------------------


def _named(name: str) -> Tool:
    async def invoke(arguments: dict[str, Any], ctx: ToolContext) -> Any:
        return name

    return Tool(name, "", {"type": "object", "properties": {}}, invoke)


@pytest.mark.parametrize("name", ["", "has space", "dot.ted", "x" * 65, "naïve", "a/b"])
def test_a_name_providers_refuse_is_refused(name: str) -> None:
    registry = ToolRegistry()
    with pytest.raises(ValueError) as refused:
        registry.add(_named(name))
    assert str(refused.value) == (
        f"tool name {name!r} must be 1-64 letters, digits, '_' or '-' (what model providers accept)"
    )
    assert registry.names() == []


def test_a_decorated_function_with_a_bad_name_is_refused() -> None:
    with pytest.raises(ValueError, match="tool name 'bad name' must be 1-64 letters"):

        @tool(name="bad name", registry=ToolRegistry())
        def anything() -> None:
            return None


def test_a_second_tool_of_the_same_name_is_refused() -> None:
    first, second = _named("t_twin"), _named("t_twin")
    registry = ToolRegistry([first])
    with pytest.raises(ValueError) as refused:
        registry.add(second)
    assert str(refused.value) == (
        "a tool named 't_twin' is already registered (from python); give this one another name"
    )
    assert registry.get("t_twin") is first
    assert registry.add(first) is first  # the same tool again is no conflict
    assert registry.add(second, replace=True) is second
    assert registry.get("t_twin") is second


def test_two_functions_decorated_with_one_name_are_refused_the_same_one_again_is_not() -> None:
    registry = ToolRegistry()

    def make() -> Tool:
        @tool(name="t_lookup", registry=registry)
        def lookup(q: str) -> str:
            """Look up."""
            return q

        return lookup

    first = make()
    again = make()  # the same function (a module imported twice): it replaces itself
    assert registry.get("t_lookup") is again and first.origin == again.origin

    with pytest.raises(ValueError) as refused:

        @tool(name="t_lookup", registry=registry)
        def other(q: str) -> str:
            """Another."""
            return q

    assert str(refused.value) == (
        f"a tool named 't_lookup' is already registered (from {again.origin}); give this one "
        "another name"
    )


async def test_an_optional_context_parameter_is_the_context_too() -> None:
    @tool(registry=None)
    async def whoami(ctx: ToolContext | None = None) -> str:
        """Say who calls."""
        assert ctx is not None
        return ctx.app_id

    assert whoami.parameters["properties"] == {}
    outcome = await whoami.execute("{}", ToolContext(app_id="app_x"))
    assert (outcome.status, outcome.result) == ("ok", "app_x")


def test_the_registry_lists_its_tools_by_name() -> None:
    registry = ToolRegistry([_named("t_b"), _named("t_a"), _named("t-c")])
    assert registry.names() == ["t-c", "t_a", "t_b"]
    assert [t.name for t in registry.all()] == ["t-c", "t_a", "t_b"]
    assert "t_a" in registry and "t_z" not in registry
    assert registry.get("t_z") is None


def test_the_decorator_registers_in_default_or_the_registry_given() -> None:
    own = ToolRegistry()

    @tool(registry=own)
    def t_base_only_here() -> None:
        return None

    @tool
    def t_base_in_default() -> None:
        return None

    assert own.get("t_base_only_here") is t_base_only_here
    assert "t_base_only_here" not in DEFAULT
    assert DEFAULT.get("t_base_in_default") is t_base_in_default
    assert "t_base_in_default" not in own


def test_a_toolset_offers_its_tools_sorted() -> None:
    toolset = ToolSet({"t_b": _named("t_b"), "t_a": _named("t_a")})
    assert [spec.name for spec in toolset.specs()] == ["t_a", "t_b"]
    assert toolset.get("t_a") is not None and toolset.get("t_c") is None
