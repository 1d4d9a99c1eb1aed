"""The orchestrator's pure decisions (podium.packs.orchestrator.planner): how a request is
split into tasks, which words name a capability, what is vague, how tasks are batched, and
how a model's task list and a user's answer are read."""

from __future__ import annotations

import pytest

from podium.packs.orchestrator.planner import (
    answer_text,
    capability_terms,
    is_skip,
    is_vague,
    plan_batches,
    split_request,
    tasks_from_model,
)


def texts_and_deps(request: str) -> list[tuple[str, list[str]]]:
    return [(t["text"], t["depends_on"]) for t in split_request(request, 10)]


def test_then_and_a_reference_make_a_task_depend_on_the_one_before() -> None:
    assert texts_and_deps("Find the weather in Paris, then translate it into French") == [
        ("Find the weather in Paris", []),
        ("translate it into French", ["t1"]),
    ]
    assert texts_and_deps("What is the weather in Rome and then summarize it") == [
        ("What is the weather in Rome", []),
        ("summarize it", ["t1"]),
    ]


def test_and_semicolons_and_sentences_make_independent_tasks() -> None:
    assert texts_and_deps("schedule a meeting and translate hello into Spanish") == [
        ("schedule a meeting", []),
        ("translate hello into Spanish", []),
    ]
    assert texts_and_deps("Summarize the news. Then translate the summary; schedule a call") == [
        ("Summarize the news", []),
        ("translate the summary", ["t1"]),
        ("schedule a call", []),
    ]


def test_a_fragment_without_a_capability_stays_with_its_task() -> None:
    request = "schedule a meeting and please"
    assert texts_and_deps(request) == [(request, [])]


def test_the_number_of_tasks_is_capped() -> None:
    request = "; ".join(f"translate word{n}" for n in range(20))
    assert len(split_request(request, 4)) == 4


def test_capability_terms_leave_out_words_that_name_no_capability() -> None:
    assert capability_terms("Find me a weather agent, please!") == ["weather"]
    assert capability_terms("schedule a meeting with Ada at 10") == ["schedule", "meeting", "ada"]
    assert is_vague("help me") and is_vague("can you do something?") and is_vague("")
    assert not is_vague("summarize this article")


def test_batches_follow_the_dependencies() -> None:
    tasks = [
        {"id": "t1", "depends_on": []},
        {"id": "t2", "depends_on": ["t1"]},
        {"id": "t3", "depends_on": []},
        {"id": "t4", "depends_on": ["t2", "t3"]},
    ]
    assert plan_batches(tasks) == [["t1", "t3"], ["t2"], ["t4"]]
    assert plan_batches([]) == []


def test_a_models_task_list_is_read_or_refused() -> None:
    then = {"text": "summarize it", "depends_on_previous": True}
    answer = {"tasks": [{"text": "get news"}, then]}
    assert tasks_from_model(answer, 10) == [
        {"id": "t1", "text": "get news", "depends_on": []},
        {"id": "t2", "text": "summarize it", "depends_on": ["t1"]},
    ]
    assert tasks_from_model({"tasks": []}, 10) == []
    assert tasks_from_model("not json", 10) is None
    assert tasks_from_model({"tasks": [{"text": ""}]}, 10) is None


@pytest.mark.parametrize("answer", ["skip", "Skip.", " no ", "leave it out"])
def test_skip_answers(answer: str) -> None:
    assert is_skip(answer)


def test_other_answers_are_kept_as_text() -> None:
    assert not is_skip("find flights")
    assert answer_text("  the weather  ") == "the weather"
    assert answer_text({"response": "news"}) == "news"
