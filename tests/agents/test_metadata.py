"""Metadata at the end of an agent's answer: found bare or fenced, taken off the answer, and
a clear message when it is missing."""

from __future__ import annotations

import pytest

from podium.agents.metadata import describe_missing, metadata_request, split_metadata


@pytest.mark.parametrize(
    ("text", "answer", "metadata"),
    [
        ('A hot lead.\n{"lead_score": 85}', "A hot lead.", {"lead_score": 85}),
        ('{"lead_score": 10}', "", {"lead_score": 10}),
        (
            'Scored.\n```json\n{"lead_score": 72, "intent": "web"}\n```\n',
            "Scored.",
            {"lead_score": 72, "intent": "web"},
        ),
        ('Nested: {"a": {"b": [1, {"c": 2}]}}', "Nested:", {"a": {"b": [1, {"c": 2}]}}),
        ('Use {braces} freely. {"ok": true}  ', "Use {braces} freely.", {"ok": True}),
    ],
)
def test_the_json_object_at_the_end_is_the_metadata(
    text: str, answer: str, metadata: dict[str, object]
) -> None:
    assert split_metadata(text) == (answer, metadata)


@pytest.mark.parametrize(
    "text",
    [
        "No metadata here.",
        '{"lead_score": 85} and then more words',
        "[1, 2, 3]",
        '{"broken": ',
        "```json\n[1]\n```",
    ],
)
def test_an_answer_that_does_not_end_with_an_object_has_none(text: str) -> None:
    assert split_metadata(text) == (text, None)


def test_what_the_agent_is_asked_and_told() -> None:
    assert metadata_request(["lead_score"]) == (
        "End your answer with one JSON object of metadata with the keys lead_score on its own "
        'line, for example {"lead_score": ...}.'
    )
    assert describe_missing("scorer", "metadata", "x" * 300).endswith("x" * 200 + "…'")
