"""The template sandbox: one Jinja environment, the test for templates cheap enough to render
in the server's process, and rendering with an output-size budget.

This module imports nothing of ours: it is also the program of the render processes
(`python templating.py`, see `template_pool`), which must start fast and must not load the
server (its settings, its secrets) into a process that runs a tenant's template.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import sys
from collections import ChainMap
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.runtime import new_context
from jinja2.sandbox import ImmutableSandboxedEnvironment


def _environment() -> ImmutableSandboxedEnvironment:
    # Immutable: a template cannot grow a list or dict in place (`items.extend(items)`).
    environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    environment.globals.pop("lipsum", None)  # makes any amount of text from one small call
    return environment


ENVIRONMENT = _environment()


@lru_cache(maxsize=256)
def parse_template(source: str) -> nodes.Template:
    """The template's syntax tree (cached); TemplateSyntaxError when it does not parse.

    Parsing evaluates nothing. Compiling does (Jinja folds constant expressions such as
    `'x' * 800000000`), so only the render processes compile a template that is not cheap
    by construction.
    """
    try:
        return ENVIRONMENT.parse(source)
    except RecursionError:
        raise TemplateSyntaxError("the template is nested too deeply", 1) from None


@lru_cache(maxsize=256)
def compile_template(source: str) -> Template:
    """The compiled template (cached); TemplateSyntaxError when it does not parse."""
    try:
        return ENVIRONMENT.from_string(source)
    except RecursionError:
        raise TemplateSyntaxError("the template is nested too deeply", 1) from None


class OutputTooLong(Exception):
    """The rendered text passed the output-size budget."""


# The globals every template of ENVIRONMENT sees, merged once (see `render_bounded`).
_GLOBALS = dict(ENVIRONMENT.globals)


def render_bounded(template: Template, context: dict[str, Any], max_chars: int) -> str:
    """Render, stopping as soon as the text passes `max_chars` (it is made piece by piece).

    What `template.generate(context)` does, less its cost per call: Jinja merges the globals
    into every render's context through a ChainMap (~5 µs, most of a short template's
    render); those of ENVIRONMENT's templates are fixed, so they are merged once."""
    own = template.globals
    if template.environment is ENVIRONMENT and isinstance(own, ChainMap) and not own.maps[0]:
        variables = {**_GLOBALS, **context}
    else:
        variables = {**own, **context}
    frame = new_context(template.environment, template.name, template.blocks, variables, True)
    pieces: list[str] = []
    size = 0
    try:
        for piece in template.root_render_func(frame):
            size += len(piece)
            if size > max_chars:
                raise OutputTooLong
            pieces.append(piece)
    except OutputTooLong:
        raise
    except Exception:
        template.environment.handle_exception()  # raises it, its traceback in the template's lines
    return "".join(pieces)


# --- templates rendered in the server's process -------------------------------------------
# A template made only of these parts does work proportional to its size and to the values
# it reads (each under the state-size cap), never more: no loop, no call, no operator that
# multiplies, no macro. Rendering it in the event loop costs microseconds; anything else goes
# to a render process.

_INLINE_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Const,
    nodes.Name,
    nodes.Getattr,
    nodes.Getitem,
    nodes.If,
    nodes.CondExpr,
    nodes.Not,
    nodes.And,
    nodes.Or,
    nodes.Compare,
    nodes.Operand,
    nodes.Test,
    nodes.Filter,
    nodes.Assign,
    nodes.List,
    nodes.Tuple,
    nodes.Dict,
    nodes.Pair,
    nodes.Keyword,
)
# Filters whose result is at most a small multiple of their input (no width, count or
# padding argument that could make it larger).
_INLINE_FILTERS = frozenset(
    {
        "abs", "capitalize", "count", "d", "default", "e", "escape", "first", "float", "int",
        "join", "last", "length", "lower", "safe", "string", "striptags", "tojson", "trim",
        "title", "upper", "urlencode", "wordcount",
    }
)  # fmt: skip
_INLINE_TESTS = frozenset(
    {
        "boolean", "defined", "divisibleby", "eq", "equalto", "even", "false", "float", "ge",
        "gt", "integer", "iterable", "le", "lower", "lt", "mapping", "ne", "none", "number",
        "odd", "sequence", "string", "true", "undefined", "upper",
    }
)  # fmt: skip
_INLINE_MAX_NODES = 200
_INLINE_MAX_CONST_CHARS = 256


def _long_text(value: Any) -> bool:
    return isinstance(value, str | bytes) and len(value) > _INLINE_MAX_CONST_CHARS


@lru_cache(maxsize=256)
def renders_inline(source: str) -> bool:
    """Whether the template is cheap by construction (see above); False when it does not
    parse (the render process then reports the syntax error)."""
    try:
        tree = parse_template(source)
    except TemplateSyntaxError:
        return False
    for count, node in enumerate(tree.find_all(nodes.Node), start=1):
        if count > _INLINE_MAX_NODES or not isinstance(node, _INLINE_NODES):
            return False
        if isinstance(node, nodes.Filter) and node.name not in _INLINE_FILTERS:
            return False
        if isinstance(node, nodes.Test) and node.name not in _INLINE_TESTS:
            return False
        if isinstance(node, nodes.Filter) and node.name == "join" and node.args:
            # A separator read from the state would be repeated once per item.
            separator = node.args[0]
            if not isinstance(separator, nodes.Const):
                return False
        if isinstance(node, nodes.Const) and _long_text(node.value):
            return False
    return True


def referenced_names(source: str) -> frozenset[str] | None:
    """The state keys a template reads, or None when it reads the whole state (`state`)."""
    # Every name read, local ones too (a superset is harmless; Jinja's own analysis compiles).
    tree = parse_template(source)
    names = frozenset(node.name for node in tree.find_all(nodes.Name) if node.ctx == "load")
    return None if "state" in names else names


# --- the render process -------------------------------------------------------------------
# One request per line on stdin, one answer per line on stdout, both JSON:
#   {"source": ..., "context": {...}, "max_chars": n, "timeout": seconds}
#   {"text": ...} or {"error": "time" | "output" | "memory" | "recursion" | "template",
#                     "message": ...}


class _TimeUp(BaseException):
    # BaseException: a template's own `except Exception` (a filter's) must not swallow it.
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _TimeUp


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    try:
        template = compile_template(request["source"])
    except TemplateSyntaxError as exc:
        return {"error": "template", "type": "TemplateSyntaxError", "message": str(exc)}
    signal.setitimer(signal.ITIMER_REAL, float(request["timeout"]))
    try:
        return {"text": render_bounded(template, request["context"], int(request["max_chars"]))}
    except _TimeUp:
        return {"error": "time", "message": "time budget"}
    except OutputTooLong:
        return {"error": "output", "message": "output budget"}
    except MemoryError:
        return {"error": "memory", "message": "memory"}
    except RecursionError:
        return {"error": "recursion", "message": "recursion"}
    except Exception as exc:  # the template's own error (an undefined name, a bad filter)
        return {"error": "template", "type": type(exc).__name__, "message": str(exc)}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _limit_memory(headroom_bytes: int) -> None:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    limit = pages * os.sysconf("SC_PAGE_SIZE") + headroom_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def serve(headroom_bytes: int) -> None:
    """The render process's loop (it ends when stdin closes)."""
    signal.signal(signal.SIGALRM, _on_alarm)
    sys.setrecursionlimit(2000)
    # Without /proc (not Linux) there is no memory limit; the parent's kill still bounds time.
    with contextlib.suppress(OSError, ValueError):
        _limit_memory(headroom_bytes)
    sys.stdout.write('{"ready": true}\n')
    sys.stdout.flush()
    for line in sys.stdin:
        try:
            answer = _answer(json.loads(line))
        except MemoryError:
            answer = {"error": "memory", "message": "memory"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
