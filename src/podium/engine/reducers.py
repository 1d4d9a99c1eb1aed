"""State reducers: how a node's output is merged into the run's state."""

from collections.abc import Callable
from typing import Any


def _replace(_old: Any, new: Any) -> Any:
    return new


def _append(old: Any, new: Any) -> Any:
    items = new if isinstance(new, list) else [new]
    if old is None:
        return list(items)
    if not isinstance(old, list):
        return [old, *items]
    return [*old, *items]


def _merge(old: Any, new: Any) -> Any:
    if isinstance(old, dict) and isinstance(new, dict):
        return {**old, **new}
    return new


REDUCERS: dict[str, Callable[[Any, Any], Any]] = {
    "replace": _replace,
    "append": _append,
    "merge": _merge,
}


def merge_into_state(
    state: dict[str, Any], output: dict[str, Any], reducers: dict[str, str]
) -> dict[str, Any]:
    """A new state with `output` merged by each key's reducer (`replace` by default)."""
    merged = dict(state)
    for key, value in output.items():
        merged[key] = REDUCERS[reducers.get(key, "replace")](merged.get(key), value)
    return merged
