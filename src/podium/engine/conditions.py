"""Conditions on edges and router rules: `{field, operator, value}` with a JMESPath `field`."""

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult


def _contains(left: Any, right: Any) -> bool:
    return isinstance(left, str | list | dict) and right in left


def _in(left: Any, right: Any) -> bool:
    return isinstance(right, str | list | dict) and left in right


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
    "in": _in,
    "not_in": lambda a, b: isinstance(b, str | list | dict) and a not in b,
    "contains": _contains,
    "exists": lambda a, _b: a is not None,
}


_COMPARISONS = frozenset({"==", "!=", ">", ">=", "<", "<="})
# JMESPath parses and evaluates recursively: a field is short and shallow, so that neither
# can reach Python's recursion limit (a condition reads a value; it is not a program).
MAX_FIELD_CHARS = 512
MAX_FIELD_NESTING = 16
_OPENERS = frozenset("([{")
_CLOSERS = frozenset(")]}")


def _nesting(field: str) -> int:
    """How deeply brackets (and `!`, which nests too) nest in `field`; quoted text counts
    as well, an over-estimate."""
    depth = deepest = 0
    for index, char in enumerate(field):
        if char in _OPENERS or (char == "!" and field[index + 1 : index + 2] != "="):
            depth += 1
            deepest = max(deepest, depth)
        elif char in _CLOSERS:
            depth -= 1
    return deepest


def _shown(field: str) -> str:
    return repr(field) if len(field) <= 60 else repr(field[:57] + "...")


@lru_cache(maxsize=1024)
def compile_field(field: str) -> ParsedResult:
    """Parse a JMESPath expression once; raises ValueError with the parser's reason."""
    if len(field) > MAX_FIELD_CHARS:
        raise ValueError(
            f"field {_shown(field)} is {len(field)} characters, over the limit of "
            f"{MAX_FIELD_CHARS}; a condition reads one value of the state, e.g. 'state.score'"
        )
    if _nesting(field) > MAX_FIELD_NESTING:
        raise ValueError(
            f"field {_shown(field)} nests brackets deeper than {MAX_FIELD_NESTING} levels; "
            "a condition reads one value of the state, e.g. 'state.items[0].score'"
        )
    try:
        return jmespath.compile(field)
    except JMESPathError as exc:
        raise ValueError(
            f"field {_shown(field)} is not a valid JMESPath expression: {exc}"
        ) from None
    except RecursionError:
        raise ValueError(
            f"field {_shown(field)} is nested too deeply to parse; simplify the expression"
        ) from None


def check_rule(field: str, operator: str) -> str | None:
    """The problem with a rule, or None when it can be evaluated."""
    if operator not in OPERATORS:
        return f"operator {operator!r} is unknown (use one of {', '.join(OPERATORS)})"
    try:
        compile_field(field)
    except ValueError as exc:
        return str(exc)
    return None


def evaluate(field: str, operator: str, value: Any, data: dict[str, Any]) -> bool:
    """Whether the rule holds for `data` (`{"state": …, "output": …}`).

    A comparison between values of incompatible types is false, not an error: a rule on a key
    that a branch did not set simply does not hold.
    """
    try:
        left = compile_field(field).search(data)
    except RecursionError:
        raise ValueError(
            f"field {_shown(field)} is nested too deeply to evaluate; simplify the expression"
        ) from None
    if isinstance(left, bool) != isinstance(value, bool) and operator in _COMPARISONS:
        return operator == "!="  # JSON booleans are not numbers: true == 1 does not hold
    try:
        return OPERATORS[operator](left, value)
    except TypeError:
        return False
