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


@lru_cache(maxsize=1024)
def compile_field(field: str) -> ParsedResult:
    """Parse a JMESPath expression once; raises ValueError with the parser's reason."""
    try:
        return jmespath.compile(field)
    except JMESPathError as exc:
        raise ValueError(f"field {field!r} is not a valid JMESPath expression: {exc}") from None


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
    left = compile_field(field).search(data)
    if isinstance(left, bool) != isinstance(value, bool) and operator in _COMPARISONS:
        return operator == "!="  # JSON booleans are not numbers: true == 1 does not hold
    try:
        return OPERATORS[operator](left, value)
    except TypeError:
        return False
