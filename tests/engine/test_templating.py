"""The template budget: time and output size, templates rendered in the server's process or in
a render process, and an event loop that keeps running while a template works."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from jinja2 import TemplateSyntaxError, UndefinedError, nodes

from podium.engine.nodes.template import (
    TemplateBudget,
    TemplateOverBudget,
    parse_template,
    render,
    render_async,
    renders_inline,
)
from podium.engine.templating import referenced_names

FAST = TemplateBudget(timeout_seconds=0.5, max_output_chars=1000)
NESTED_LOOPS = "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}"


@pytest.mark.parametrize(
    "source",
    [
        "Hello, {{ name | default('world') }}!",
        "{{ state.topic }}",
        "{% if score > 3 %}high{% else %}low{% endif %}",
        "{{ items | join(', ') }}",
    ],
)
def test_templates_cheap_by_construction_render_in_process(source: str) -> None:
    assert renders_inline(source)


@pytest.mark.parametrize(
    "source",
    [
        "{% for x in items %}{{ x }}{% endfor %}",
        "{{ 'x' * 3 }}",
        "{{ name.upper() }}",
        "{% macro f() %}{% endmacro %}",
        "{{ items | join(sep) }}",
        "{{ name | center(10) }}",
        "{{ '" + "y" * 300 + "' }}",
        "{{ a ~ b }}",
    ],
)
def test_other_templates_go_to_a_render_process(source: str) -> None:
    assert not renders_inline(source)


def test_both_ways_render_the_same_text() -> None:
    state = {"name": "Ada", "items": ["a", "b"]}
    assert render("Hi {{ name }}: {{ items | join(',') }}", state) == "Hi Ada: a,b"
    assert render("Hi {{ name }}:{% for i in items %} {{ i }}{% endfor %}", state) == "Hi Ada: a b"
    looped = "{{ state.name }}{% for i in state['items'] %}{{ i }}{% endfor %}"
    assert render(looped, state) == "Adaab"


def test_the_globals_are_there_and_a_state_key_of_the_same_name_wins() -> None:
    # The globals are merged into the context once, not by Jinja on every render.
    assert render("{% for i in range(3) %}{{ i }}{% endfor %}", {}) == "012"
    assert render("{{ range }}", {"range": "mine"}) == "mine"
    assert render("{{ state.range }}", {"range": "mine"}) == "mine"


def test_only_the_keys_a_template_reads_are_sent_to_a_render_process() -> None:
    assert referenced_names("{% for i in items %}{{ i }}{{ other }}{% endfor %}") == {
        "items",
        "i",
        "other",
    }
    assert referenced_names("{% for i in state.items %}{% endfor %}") is None


def test_nested_loops_stop_at_the_time_budget() -> None:
    started = time.monotonic()
    with pytest.raises(TemplateOverBudget) as raised:
        render(NESTED_LOOPS, {}, FAST)
    assert time.monotonic() - started < 3
    assert raised.value.message == (
        "the template ran past its time budget of 0.5s (a loop or an expression doing too much "
        "work); simplify it or raise PODIUM_TEMPLATE_TIMEOUT_SECONDS"
    )
    assert render("{% for n in range(3) %}{{ n }}{% endfor %}", {}, FAST) == "012"  # still works


def test_a_long_computation_in_one_expression_is_stopped() -> None:
    # One C-level operation that ignores the render process's own alarm: the process is killed.
    started = time.monotonic()
    with pytest.raises(TemplateOverBudget, match="time budget"):
        render("{{ 9 ** 999999999 }}", {}, FAST)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x' * 8000000 }}",
        "{{ 'x' * 800000000 }}",  # past the render process's memory limit
        "{% for n in range(100) %}{{ 'abcdefghijklmnop' }}{% endfor %}",
        "{{ big }}{{ big }}",
    ],
)
def test_output_over_the_size_budget_is_refused(source: str) -> None:
    with pytest.raises(TemplateOverBudget) as raised:
        render(source, {"big": "y" * 600}, FAST)
    assert raised.value.message == (
        "the template's output passed the output-size budget of 1000 characters; make it "
        "shorter or raise PODIUM_TEMPLATE_MAX_OUTPUT_CHARS"
    )


def test_compiling_never_evaluates_in_the_server() -> None:
    # Jinja folds constants when it compiles; a flow's check only parses, so the tree still
    # holds both operations with their small operands (folding would take minutes and 800 MB).
    tree = parse_template("{{ 'x' * 800000000 }}{{ 9 ** 999999999 }}")
    [output] = tree.body
    assert [type(node).__name__ for node in output.nodes] == ["Mul", "Pow"]
    constants = [const.value for const in tree.find_all(nodes.Const)]
    assert constants == ["x", 800000000, 9, 999999999]


def test_macro_recursion_fails_without_a_recursion_error() -> None:
    with pytest.raises(TemplateOverBudget, match="recursed too deeply"):
        render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", {}, FAST)


def test_deeply_nested_syntax_is_a_syntax_error() -> None:
    with pytest.raises(TemplateSyntaxError):
        parse_template("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")


def test_template_errors_keep_their_kind() -> None:
    with pytest.raises(UndefinedError, match="'missing' is undefined"):
        render("{% for i in missing %}{% endfor %}", {})
    with pytest.raises(UndefinedError, match="'missing' is undefined"):
        render("{{ missing }}", {})


def test_the_sandbox_refuses_mutation_and_private_attributes() -> None:
    with pytest.raises(Exception, match=r"unsafe|not safely callable"):
        render("{% for i in items %}{{ items.append(1) }}{% endfor %}", {"items": [1]})
    with pytest.raises(Exception, match="unsafe"):
        render("{% for i in items %}{{ i.__class__.__mro__ }}{% endfor %}", {"items": [1]})


async def test_the_event_loop_runs_while_a_bomb_renders() -> None:
    ticks: list[float] = []

    async def tick() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.005)

    ticker = asyncio.create_task(tick())
    try:
        with pytest.raises(TemplateOverBudget):
            await render_async(NESTED_LOOPS, {}, FAST)
    finally:
        ticker.cancel()
    gaps = [later - earlier for earlier, later in itertools.pairwise(ticks)]
    assert len(ticks) > 20
    assert max(gaps) < 0.1
