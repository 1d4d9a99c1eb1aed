"""The one JSON boundary (podium.jsonvalue): what it refuses, the message a user reads, and
that it never raises RecursionError however deep the value or text is."""

from __future__ import annotations

import datetime
import enum
import json
from typing import Any

import pytest

from podium import jsonvalue
from podium.errors import JSONValueInvalid
from podium.jsonvalue import JSONLimits

SMALL = JSONLimits(max_depth=3, max_string_chars=10, max_key_chars=4)


def nested(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for index in range(levels):
        value = [value] if index % 2 else {"a": value}
    return value


def refusal(value: Any, limits: JSONLimits | None = None) -> JSONValueInvalid:
    with pytest.raises(JSONValueInvalid) as info:
        jsonvalue.check_value(value, "the input", limits)
    assert info.value.code == "json_invalid"
    return info.value


class Colour(enum.StrEnum):
    RED = "red"


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -1.5,
        "",
        "héllo ✓",
        [],
        {},
        {"a": [1, {"b": None}], "c": "x"},
        nested(64),
        (1, 2),
        Colour.RED,
    ],
)
def test_json_within_the_limits_passes(value: Any) -> None:
    jsonvalue.check_value(value, "the input")


@pytest.mark.parametrize(
    ("value", "message", "details"),
    [
        (
            nested(65),
            "the input at $.a[0].a[0].a[0].a[0].a[0].a[0].a[0].a[0].a[0].a[0].a[0].a[0].a[0]."
            "a[0].a[0].a[0].a[0].a[0].a[0].a[0].a[0].a[0].a[0].a[0].a[0].a[0].a[0].a[0].a[0].a[0]"
            ".a[0].a[0]: nested deeper than 64 levels",
            {"setting": "PODIUM_MAX_JSON_DEPTH"},
        ),
        (
            {"name": "a\x00b"},
            "the input at $.name: a string holds a NUL character (\\u0000), which is refused",
            {"path": "$.name"},
        ),
        (
            {"k\x00": 1},
            "the input: a key holds a NUL character (\\u0000), which is refused",
            {"path": "$"},
        ),
        (
            {"score": float("nan")},
            "the input at $.score: nan is not a JSON number (NaN and Infinity are refused)",
            {"path": "$.score"},
        ),
        (
            [float("-inf")],
            "the input at $[0]: -inf is not a JSON number (NaN and Infinity are refused)",
            {"path": "$[0]"},
        ),
        (
            {"when": datetime.date(2026, 1, 1)},
            "the input at $.when: a value of type date is not JSON; use a string, number, "
            "boolean, null, list or object",
            {"path": "$.when"},
        ),
        ({1: "x"}, "the input: the key 1 is not a string", {"path": "$"}),
        (
            {"s": "\ud800"},
            "the input at $.s: a string holds a lone surrogate (\\ud800 to \\udfff), which is "
            "not UTF-8",
            {"path": "$.s"},
        ),
    ],
)
def test_a_refusal_names_the_place_the_problem_and_the_setting(
    value: Any, message: str, details: dict[str, Any]
) -> None:
    error = refusal(value)
    assert error.message == message
    assert details.items() <= error.details.items()


def test_string_and_key_caps_name_their_settings() -> None:
    long_string = refusal({"a": "x" * 11}, SMALL)
    assert long_string.message == (
        "the input at $.a: a string of 11 characters is over the cap of 10"
    )
    assert long_string.details["setting"] == "PODIUM_MAX_JSON_STRING_CHARS"
    long_key = refusal({"abcde": 1}, SMALL)
    assert long_key.message == "the input: a key of 5 characters is over the cap of 4"
    assert long_key.details["setting"] == "PODIUM_MAX_JSON_KEY_CHARS"
    jsonvalue.check_value({"abcd": "x" * 10}, "the input", SMALL)  # at the caps: fine


def test_depth_counts_containers_not_scalars() -> None:
    jsonvalue.check_value({"a": {"b": [1, "x"]}}, "the input", SMALL)
    assert refusal({"a": {"b": [[1]]}}, SMALL).details["setting"] == "PODIUM_MAX_JSON_DEPTH"


@pytest.mark.parametrize("levels", [1_000, 100_000])
def test_values_deeper_than_the_recursion_limit_are_refused_not_raised(levels: int) -> None:
    error = refusal(nested(levels))
    assert "nested deeper than 64 levels" in error.message


@pytest.mark.parametrize("levels", [65, 300, 5_000, 200_000])
def test_deep_text_is_refused_with_the_depth_message(levels: int) -> None:
    text = "[" * levels + "]" * levels
    with pytest.raises(JSONValueInvalid) as info:
        jsonvalue.loads(text, "the request body")
    assert info.value.message.startswith("the request body")
    assert info.value.message.endswith("nested deeper than 64 levels")
    assert info.value.details["setting"] == "PODIUM_MAX_JSON_DEPTH"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"x": NaN}', "the body: NaN is not a JSON number (NaN and Infinity are refused)"),
        ("[Infinity]", "the body: Infinity is not a JSON number (NaN and Infinity are refused)"),
        ('{"x": ', "the body: not valid JSON (Expecting value at position 6)"),
        (b"\xff", "the body: not UTF-8 (invalid start byte)"),
        (
            '{"n": "\\u0000"}',
            "the body at $.n: a string holds a NUL character (\\u0000), which is refused",
        ),
    ],
)
def test_loads_refuses_text_that_is_not_boundary_json(text: str | bytes, message: str) -> None:
    with pytest.raises(JSONValueInvalid) as info:
        jsonvalue.loads(text, "the body")
    assert info.value.message == message


def test_loads_gives_the_value() -> None:
    value = {"a": [1, 2.5, "x", None, True]}
    assert jsonvalue.loads(json.dumps(value).encode()) == value


def test_configure_sets_the_process_limits() -> None:
    before = jsonvalue.current_limits()
    try:
        jsonvalue.configure(SMALL)
        with pytest.raises(JSONValueInvalid):
            jsonvalue.check_value([[[[1]]]])
    finally:
        jsonvalue.configure(before)
    jsonvalue.check_value([[[[1]]]])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"it": ["ok", "a\x00"]}, "the input at $.it[1]: a string holds a NUL character"),
        ({"it": [1, float("nan")]}, "the input at $.it[1]: nan is not a JSON number"),
        ({"it": ["x" * 11]}, "the input at $.it[0]: a string of 11 characters is over"),
        ({"it": [None, 1, ("t",)]}, None),  # a tuple encodes as a list
        ({"it": [True, None, 3, "é"], "n": None, "s": "ü"}, None),
        ({"it": [{"k": 1}], "f": False}, None),
        ({"abcde": [1]}, "the input: a key of 5 characters is over the cap of 4"),
    ],
)
def test_objects_of_scalars_and_lists_are_checked_like_any_value(
    value: Any, message: str | None
) -> None:
    # The common shape of a node's output has a quicker check; the result is the same.
    if message is None:
        jsonvalue.check_value(value, "the input", SMALL)
    else:
        assert refusal(value, SMALL).message.startswith(message)


def test_a_depth_of_one_refuses_a_list_in_an_object() -> None:
    one_level = jsonvalue.JSONLimits(max_depth=1)
    assert refusal({"a": []}, one_level).message == "the input at $.a: nested deeper than 1 levels"
    jsonvalue.check_value({"a": 1}, "the input", one_level)
