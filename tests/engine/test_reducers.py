"""Reducers: how a node's output is merged into the state (DESIGN §3.3)."""

from __future__ import annotations

from typing import Any

import pytest

from podium.engine.reducers import REDUCERS, merge_into_state

MISSING = object()

# fmt: off
CASES = [
    # reducer, old value (MISSING: key absent), new value, result
    ("replace", MISSING, 1, 1),
    ("replace", 1, 2, 2),
    ("replace", [1], [2], [2]),
    ("replace", {"a": 1}, {"b": 2}, {"b": 2}),
    ("replace", 1, None, None),
    ("append", MISSING, [1], [1]),
    ("append", MISSING, 1, [1]),  # a scalar onto a missing key
    ("append", None, "x", ["x"]),
    ("append", [1], [2, 3], [1, 2, 3]),
    ("append", [1], 2, [1, 2]),  # a scalar is one item
    ("append", [1], [], [1]),
    ("append", [1], [[2]], [1, [2]]),  # a list inside the list is one item
    ("append", [1], {"role": "user"}, [1, {"role": "user"}]),
    ("append", "first", "second", ["first", "second"]),  # a scalar already there becomes a list
    ("append", "first", ["second"], ["first", "second"]),
    ("merge", MISSING, {"a": 1}, {"a": 1}),
    ("merge", {"a": 1, "b": 1}, {"b": 2, "c": 3}, {"a": 1, "b": 2, "c": 3}),
    ("merge", {"a": {"x": 1}}, {"a": {"y": 2}}, {"a": {"y": 2}}),  # shallow
    ("merge", {"a": 1}, {}, {"a": 1}),
    ("merge", {"a": 1}, 5, 5),  # not both objects: the new value replaces
    ("merge", [1], {"a": 1}, {"a": 1}),
    ("merge", {"a": 1}, None, None),
]
# fmt: on


@pytest.mark.parametrize(("reducer", "old", "new", "expected"), CASES)
def test_reducer(reducer: str, old: Any, new: Any, expected: Any) -> None:
    state = {} if old is MISSING else {"key": old}
    assert merge_into_state(state, {"key": new}, {"key": reducer}) == {"key": expected}


def test_reducers_are_the_documented_three() -> None:
    assert list(REDUCERS) == ["replace", "append", "merge"]


def test_keys_without_a_reducer_are_replaced_and_others_are_kept() -> None:
    state = {"messages": ["hi"], "profile": {"name": "Ada"}, "score": 1, "untouched": True}
    output = {"messages": ["hello"], "profile": {"plan": "pro"}, "score": 2, "new": "x"}
    reducers = {"messages": "append", "profile": "merge"}
    assert merge_into_state(state, output, reducers) == {
        "messages": ["hi", "hello"],
        "profile": {"name": "Ada", "plan": "pro"},
        "score": 2,
        "untouched": True,
        "new": "x",
    }


def test_merging_does_not_change_the_old_state() -> None:
    state = {"messages": ["hi"], "profile": {"name": "Ada"}}
    before = {"messages": ["hi"], "profile": {"name": "Ada"}}
    merged = merge_into_state(
        state,
        {"messages": ["more"], "profile": {"plan": "pro"}},
        {"messages": "append", "profile": "merge"},
    )
    assert state == before
    assert merged["messages"] is not state["messages"]
    merged["messages"].append("later")
    assert state == before


def test_appending_copies_the_new_list() -> None:
    new = ["a"]
    merged = merge_into_state({}, {"log": new}, {"log": "append"})
    merged["log"].append("b")
    assert new == ["a"]


def test_an_empty_output_changes_nothing() -> None:
    state = {"a": 1}
    assert merge_into_state(state, {}, {"a": "append"}) == {"a": 1}
