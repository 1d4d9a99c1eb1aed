"""Conditions: `{field, operator, value}` with a JMESPath `field` over `{state, output}`."""

from __future__ import annotations

from typing import Any

import pytest

from podium.engine.conditions import OPERATORS, check_rule, compile_field, evaluate

DATA = {
    "state": {
        "score": 80,
        "name": "Ada",
        "tags": ["vip", "beta"],
        "profile": {"plan": "pro", "seats": 3},
        "zero": 0,
        "empty": "",
        "nothing": None,
        "leads": [{"score": 10}, {"score": 90}],
    },
    "output": {"label": "hot", "ok": True},
}

# fmt: off
CASES = [
    # field, operator, value, expected
    ("state.score", "==", 80, True),
    ("state.score", "==", 79, False),
    ("state.score", "!=", 79, True),
    ("state.score", "!=", 80, False),
    ("state.score", ">", 70, True),
    ("state.score", ">", 80, False),
    ("state.score", ">=", 80, True),
    ("state.score", ">=", 81, False),
    ("state.score", "<", 81, True),
    ("state.score", "<", 80, False),
    ("state.score", "<=", 80, True),
    ("state.score", "<=", 79, False),
    ("state.score", ">", 79.5, True),
    ("state.name", "<", "Bob", True),  # strings compare as strings
    ("state.name", "in", ["Ada", "Bob"], True),
    ("state.name", "in", ["Bob"], False),
    ("state.name", "in", "Ada Lovelace", True),  # substring
    ("state.profile.plan", "in", {"pro": 1}, True),  # a key of an object
    ("state.name", "not_in", ["Bob"], True),
    ("state.name", "not_in", ["Ada"], False),
    ("state.tags", "contains", "vip", True),
    ("state.tags", "contains", "gold", False),
    ("state.name", "contains", "da", True),
    ("state.profile", "contains", "seats", True),  # a key of an object
    ("state.profile", "contains", "pro", False),  # values are not keys
    ("state.score", "exists", None, True),
    ("state.zero", "exists", None, True),  # falsy values exist
    ("state.empty", "exists", None, True),
    ("state.missing", "exists", None, False),
    ("state.nothing", "exists", None, False),  # null is absent
    ("output.label", "==", "hot", True),
    ("output.ok", "==", True, True),
    ("state.label", "==", "hot", False),  # output keys are not in state
    ("state.profile.seats", ">=", 3, True),
    ("state.tags[0]", "==", "vip", True),
    ("length(state.tags)", "==", 2, True),
    ("state.leads[?score > `50`] | length(@)", "==", 1, True),
    ("max_by(state.leads, &score).score", "==", 90, True),
    ("state.profile == {plan: 'pro', seats: `3`}", "==", True, True),
    ("state.profile", "==", {"seats": 3, "plan": "pro"}, True),
]

MISMATCHED = [
    # incompatible types: false, never an error
    ("state.score", ">", "70"),
    ("state.score", "<", "90"),
    ("state.name", ">=", 1),
    ("state.missing", ">", 1),
    ("state.missing", "<=", 1),
    ("state.score", "==", "80"),
    ("state.tags", ">", 1),
    ("state.profile", "<", {}),
    ("state.score", "in", ["80"]),
    ("state.score", "in", 80),  # not a container
    ("state.score", "in", "a string with 80"),  # int in str raises TypeError
    ("state.tags", "in", {"vip": 1}),  # unhashable key lookup raises TypeError
    ("state.score", "not_in", 80),  # not a container
    ("state.score", "contains", 8),  # an int contains nothing
    ("state.missing", "contains", "x"),
    ("state.name", "contains", 1),  # int in str raises TypeError
    ("state.profile", "contains", ["plan"]),
]
# fmt: on


@pytest.mark.parametrize(("field", "operator", "value", "expected"), CASES)
def test_operator(field: str, operator: str, value: Any, expected: bool) -> None:
    assert evaluate(field, operator, value, DATA) is expected


@pytest.mark.parametrize(("field", "operator", "value"), MISMATCHED)
def test_comparisons_of_incompatible_types_are_false(field: str, operator: str, value: Any) -> None:
    assert evaluate(field, operator, value, DATA) is False


def test_every_documented_operator_exists() -> None:
    assert list(OPERATORS) == [
        "==",
        "!=",
        ">",
        ">=",
        "<",
        "<=",
        "in",
        "not_in",
        "contains",
        "exists",
    ]


@pytest.mark.parametrize("operator", list(OPERATORS))
def test_every_operator_is_false_or_true_on_missing_data(operator: str) -> None:
    result = evaluate("state.score", operator, 1, {"state": {}, "output": {}})
    assert result is (operator == "!=")  # only `!=` holds between null and 1


def test_check_rule_accepts_good_rules() -> None:
    assert check_rule("state.score", ">") is None
    assert check_rule("output.items[?x > `1`]", "exists") is None


def test_check_rule_names_the_unknown_operator_and_the_choices() -> None:
    assert check_rule("state.score", "gt") == (
        "operator 'gt' is unknown (use one of ==, !=, >, >=, <, <=, in, not_in, contains, exists)"
    )


@pytest.mark.parametrize("field", ["state.[", "state.score >", "", "state..x", "&"])
def test_check_rule_names_an_invalid_field(field: str) -> None:
    problem = check_rule(field, "==")
    assert problem is not None
    assert problem.startswith(f"field {field!r} is not a valid JMESPath expression: ")


def test_compile_field_raises_value_error_and_caches() -> None:
    with pytest.raises(ValueError, match=r"^field 'a\.\[' is not a valid JMESPath expression: "):
        compile_field("a.[")
    assert compile_field("state.score") is compile_field("state.score")


# --- fields are short and shallow (DESIGN §8: conditions have depth budgets) ----------------


@pytest.mark.parametrize(
    ("field", "problem"),
    [
        (
            "state." + ".".join(["a"] * 300),
            "is 605 characters, over the limit of 512; a condition reads one value of the "
            "state, e.g. 'state.score'",
        ),
        (
            "(" * 17 + "state.a" + ")" * 17,
            "nests brackets deeper than 16 levels; a condition reads one value of the state, "
            "e.g. 'state.items[0].score'",
        ),
        ("!" * 17 + "state.a", "nests brackets deeper than 16 levels"),
        ("state.a[" * 17 + "]" * 17, "nests brackets deeper than 16 levels"),
    ],
)
def test_a_huge_or_deep_field_is_refused_with_a_message(field: str, problem: str) -> None:
    message = check_rule(field, "==")
    assert message is not None and message.startswith("field '")
    assert problem in message
    assert len(message) < 300  # the field is shown cut, not whole


def test_a_field_within_the_budget_still_parses() -> None:
    assert check_rule("(" * 16 + "state.a" + ")" * 16, "==") is None
    assert check_rule("state.a != `1` && state.b != `2` && !state.c", "==") is None
    assert evaluate("state.leads[?score > `50`] | [0].score", "==", 90, DATA)


def test_a_recursion_error_while_parsing_or_evaluating_becomes_a_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # jmespath recurses by the expression's nesting; below the budget, only a stack already
    # deep when the condition is read could still reach the limit: simulate that.
    import jmespath

    def too_deep(_expression: str) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(jmespath, "compile", too_deep)
    compile_field.cache_clear()
    try:
        message = check_rule("state.unseen_field", "==")
        assert (
            message
            == "field 'state.unseen_field' is nested too deeply to parse; simplify the expression"
        )
        with pytest.raises(ValueError, match="is nested too deeply to parse"):
            evaluate("state.other_unseen", "==", 1, DATA)
    finally:
        compile_field.cache_clear()
