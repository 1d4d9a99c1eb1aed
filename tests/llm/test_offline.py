"""The built-in offline provider: `echo` repeats the last user message word by word (and
answers the JSON metadata a node asks for with a deterministic lead score), and `script`
plays the turns it is given, one per assistant message so far, checked."""

from __future__ import annotations

import json
from typing import Any

import pytest

from podium.agents.metadata import metadata_request, split_metadata
from podium.llm.base import Message, ModelRequest, ProviderError, ToolCall, ToolSpec
from podium.llm.offline import (
    KNOWLEDGE_CONTEXT,
    SCRIPT_DONE,
    OfflineProvider,
    best_sentence,
    count_tokens,
    lead_score,
    script_problems,
)

HELLO = [Message("system", "Be brief."), Message("user", "Hello there, friend")]


def request(model: str, messages: list[Message], script: Any = None) -> ModelRequest:
    options = {} if script is None else {"script": script}
    return ModelRequest(model, messages, options=options)


def assistant_turns(count: int) -> list[Message]:
    messages: list[Message] = [Message("user", "go")]
    for _ in range(count):
        messages += [Message("assistant", "…"), Message("user", "again")]
    return messages


async def test_echo_answers_with_the_last_user_message() -> None:
    messages = [
        Message("user", "first question"),
        Message("assistant", "an answer"),
        Message("user", "the second one"),
        Message("tool", "a tool result", tool_call_id="c1", name="lookup"),
    ]
    response = await OfflineProvider().complete(request("echo", messages))
    assert response.text == "the second one"
    assert response.tool_calls == []
    assert response.finish_reason == "stop"
    assert response.model == "offline/echo"


async def test_echo_without_a_user_message_answers_nothing() -> None:
    response = await OfflineProvider().complete(request("echo", [Message("system", "hi")]))
    assert response.text == ""


async def test_echo_streams_word_by_word() -> None:
    deltas: list[str] = []
    text = "one  two\nthree four "
    response = await OfflineProvider().complete(
        request("echo", [Message("user", text)]), deltas.append
    )
    assert deltas == ["one  ", "two\n", "three ", "four "]
    assert "".join(deltas) == response.text == text


async def test_usage_counts_words_of_the_prompt_and_the_answer() -> None:
    response = await OfflineProvider().complete(request("echo", HELLO))
    assert count_tokens("Hello there, friend") == 3
    assert response.usage.input_tokens == 2 + 3  # "Be brief." + the user message
    assert response.usage.output_tokens == 3
    assert response.usage.total == 8


async def test_script_plays_the_turn_of_the_assistant_count() -> None:
    script = [{"text": "turn zero"}, {"text": "turn one"}, {"text": "turn two"}]
    provider = OfflineProvider()
    texts = [
        (await provider.complete(request("script", assistant_turns(n), script))).text
        for n in range(3)
    ]
    assert texts == ["turn zero", "turn one", "turn two"]
    again = await provider.complete(request("script", assistant_turns(1), script))
    assert again.text == "turn one"  # the same conversation gets the same answer


async def test_script_streams_its_text() -> None:
    deltas: list[str] = []
    response = await OfflineProvider().complete(
        request("script", [Message("user", "go")], [{"text": "all done now"}]), deltas.append
    )
    assert deltas == ["all ", "done ", "now"]
    assert response.finish_reason == "stop"
    assert response.model == "offline/script"


async def test_script_tool_calls_get_ids_and_json_arguments() -> None:
    script = [
        {"text": "let me look", "tool_calls": [{"name": "lookup", "arguments": {"q": "ada"}}]},
        {
            "tool_calls": [
                {"name": "first", "arguments": {"n": 1, "deep": {"x": [1, 2]}}},
                {"name": "second"},
                {"name": "broken", "arguments": '{"q": "unterminated'},
            ]
        },
    ]
    provider = OfflineProvider()
    first = await provider.complete(request("script", [Message("user", "go")], script))
    assert first.text == "let me look"
    assert first.finish_reason == "tool_calls"
    assert first.tool_calls == [ToolCall("call_0_0", "lookup", '{"q": "ada"}')]
    second = await provider.complete(request("script", assistant_turns(1), script))
    assert [(c.id, c.name) for c in second.tool_calls] == [
        ("call_1_0", "first"),
        ("call_1_1", "second"),
        ("call_1_2", "broken"),
    ]
    assert json.loads(second.tool_calls[0].arguments) == {"n": 1, "deep": {"x": [1, 2]}}
    assert second.tool_calls[1].arguments == "{}"
    # a string is the model's raw text, passed on as is, broken JSON included
    assert second.tool_calls[2].arguments == '{"q": "unterminated'
    assert second.text == ""
    assert second.usage.output_tokens == sum(count_tokens(c.arguments) for c in second.tool_calls)


async def test_a_script_that_ran_out_says_so() -> None:
    response = await OfflineProvider().complete(
        request("script", assistant_turns(1), [{"text": "only turn"}])
    )
    assert response.text == SCRIPT_DONE == "(the script has no more turns)"
    assert response.tool_calls == []


@pytest.mark.parametrize("script", [None, {"text": "not a list"}, "turns"])
async def test_a_missing_script_is_a_provider_error_naming_offline_script(script: Any) -> None:
    with pytest.raises(ProviderError) as failed:
        await OfflineProvider().complete(request("script", HELLO, script))
    message = str(failed.value)
    assert message.startswith("provider 'offline', model 'script': ")
    assert "offline/script needs the agent's `script`" in message
    assert failed.value.retryable is False


async def test_a_script_turn_that_is_not_an_object_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="script turn 0 is not an object"):
        await OfflineProvider().complete(request("script", HELLO, ["just text"]))


async def test_an_unknown_offline_model_is_a_provider_error() -> None:
    with pytest.raises(ProviderError) as failed:
        await OfflineProvider().complete(request("parrot", HELLO))
    assert str(failed.value) == (
        "provider 'offline', model 'parrot': unknown offline model; use one of ['echo', 'script']"
    )
    assert failed.value.details == {"provider": "offline", "model": "parrot", "status": None}


async def test_the_offline_provider_is_always_healthy() -> None:
    health = await OfflineProvider().health()
    assert health.reachable is True
    assert OfflineProvider.name == "offline"


# --- metadata: the JSON tail a node asks for ------------------------------------------------


@pytest.mark.parametrize(
    ("message", "score"),
    [
        ("Hello", 40),
        ("What is the weather like?", 40),
        ("I need help", 60),  # a need
        ("I need a website", 80),  # a need and a service
        ("Our SEO is poor", 60),  # a service
        ("Urgent: we want an online shop, budget $5k", 100),  # all four kinds
        ("NEED. WEBSITE. ASAP.", 90),  # case and punctuation do not matter
    ],
)
def test_the_echo_lead_score_adds_the_points_of_each_kind_of_signal(
    message: str, score: int
) -> None:
    assert lead_score(message) == score
    assert lead_score(message) == lead_score(message)  # deterministic, no state


async def test_echo_answers_the_metadata_a_node_asks_for() -> None:
    task = f"I need a website\n\n{metadata_request(['lead_score', 'intent'])}"
    response = await OfflineProvider().complete(request("echo", [Message("user", task)]))
    # the request sentence is left out, the object asked for is the answer's end
    assert response.text == 'I need a website\n{"lead_score": 80, "intent": null}'
    assert split_metadata(response.text) == ("I need a website", {"lead_score": 80, "intent": None})


async def test_echo_names_the_score_lead_score_when_no_key_is_named() -> None:
    task = f"Hello\n\n{metadata_request(None)}"
    response = await OfflineProvider().complete(request("echo", [Message("user", task)]))
    assert split_metadata(response.text) == ("Hello", {"lead_score": 40})


async def test_echo_reads_keys_that_need_escaping_and_scores_only_the_message() -> None:
    keys = ['the "best" score', "ünïcode"]
    # "website" and "need" in the request's keys do not count: only the message is scored
    task = f"Hi\n\n{metadata_request([*keys, 'need_website_score'])}"
    response = await OfflineProvider().complete(request("echo", [Message("user", task)]))
    _, metadata = split_metadata(response.text)
    assert metadata == {'the "best" score': 40, "ünïcode": None, "need_website_score": 40}


async def test_echo_skips_a_key_that_is_not_a_json_string() -> None:
    # typed by a person: "a\q" is no JSON string
    typed = "Hi\n\nEnd your answer with one JSON object of metadata, for example "
    typed += '{"a\\q": ..., "b": ...}.'
    response = await OfflineProvider().complete(request("echo", [Message("user", typed)]))
    assert split_metadata(response.text) == ("Hi", {"b": None})


async def test_echo_without_the_request_at_the_end_repeats_the_message_as_before() -> None:
    text = f"{metadata_request(['lead_score'])} was the request; now something else"
    response = await OfflineProvider().complete(request("echo", [Message("user", text)]))
    assert response.text == text


async def test_a_script_turn_with_metadata_ends_its_text_with_the_object() -> None:
    script = [
        {"text": "A warm lead.", "metadata": {"lead_score": 85, "tier": "warm"}},
        {"metadata": {"lead_score": 10}},
    ]
    provider = OfflineProvider()
    first = await provider.complete(request("script", [Message("user", "go")], script))
    assert split_metadata(first.text) == ("A warm lead.", {"lead_score": 85, "tier": "warm"})
    second = await provider.complete(request("script", assistant_turns(1), script))
    assert second.text == '{"lead_score": 10}'


# --- script turns are checked ----------------------------------------------------------------


def test_a_good_script_has_no_problems() -> None:
    script = [
        {"text": "hi"},
        {
            "tool_calls": [
                {"name": "lookup", "arguments": {"q": 1}},
                {"name": "raw", "arguments": "{"},
            ]
        },
        {"text": "scored", "metadata": {"lead_score": 1}},
        {"tool_calls": [{"name": "lookup"}], "text": "and text"},
    ]
    assert script_problems(script) == []


@pytest.mark.parametrize(
    ("script", "problem"),
    [
        (
            [{"content": "Hello"}],
            "turn 0 has the unknown key 'content'; a turn's keys are text, tool_calls, metadata",
        ),
        (
            [{"text": "ok"}, {"text": "x", "role": "assistant", "say": 1}],
            "turn 1 has the unknown keys 'role', 'say'; a turn's keys are text, tool_calls, "
            "metadata",
        ),
        ([{}], "turn 0 says nothing: give it at least one of text, tool_calls, metadata"),
        ([{"text": 3}], "turn 0: text is a string"),
        ([{"metadata": [1]}], 'turn 0: metadata is an object, e.g. {"lead_score": 85}'),
        ([{"tool_calls": {"name": "x"}}], "turn 0: tool_calls is a list such as"),
        (
            [{"tool_calls": [{"tool": "x", "args": {}}]}],
            "turn 0, tool call 0 has the unknown keys 'tool', 'args'; a tool call's keys are "
            "name, arguments",  # and then: it needs a name
        ),
        ([{"tool_calls": [{"arguments": {}}]}], "turn 0, tool call 0 needs a name"),
        (
            [{"tool_calls": [{"name": "x", "arguments": 3}]}],
            "turn 0, tool call 0: arguments is an object (or a string, sent as it is)",
        ),
        (["just text"], "turn 0 is not an object; a turn is such as"),
        ({"text": "x"}, "a script is a list of turns such as"),
    ],
)
def test_script_problems_name_the_turn_and_what_is_allowed(script: Any, problem: str) -> None:
    problems = script_problems(script)
    assert problems[0].startswith(problem), problems


async def test_a_bad_turn_is_refused_when_played_not_answered_with_nothing() -> None:
    # A definition stored before scripts were checked can still hold one.
    script = [{"text": "fine"}, {"content": "Hello"}]
    provider = OfflineProvider()
    assert (await provider.complete(request("script", HELLO, script))).text == "fine"
    with pytest.raises(ProviderError) as failed:
        await provider.complete(request("script", assistant_turns(1), script))
    assert str(failed.value) == (
        "provider 'offline', model 'script': script turn 1 has the unknown key 'content'; "
        "a turn's keys are text, tool_calls, metadata"
    )


# --- echo with knowledge ------------------------------------------------------------------

SEARCH = ToolSpec("search_knowledge", "Search the knowledge base.", {"type": "object"})
PASSAGE = (
    "# Durability\n\nPodium records every step. After a crash a restarted worker takes the "
    "run back and continues. Nothing that finished runs again."
)


def searched(hits: list[dict[str, Any]]) -> Message:
    result = {"query": "q", "namespaces": ["docs"], "mode": "text", "note": None, "hits": hits}
    return Message("tool", json.dumps(result), tool_call_id="call_0_0", name="search_knowledge")


async def test_echo_offered_search_knowledge_searches_for_the_user_message() -> None:
    question = "  What happens to a run after a crash?  "
    messages = [Message("system", "Answer from the docs."), Message("user", question)]
    response = await OfflineProvider().complete(ModelRequest("echo", messages, tools=[SEARCH]))
    assert response.text == ""
    assert response.finish_reason == "tool_calls"
    [call] = response.tool_calls
    assert (call.id, call.name) == ("call_0_0", "search_knowledge")
    assert json.loads(call.arguments) == {"query": "happens run after crash"}
    # only common words: the question as it is
    alone = [Message("user", "What is it?")]
    [call] = (
        await OfflineProvider().complete(ModelRequest("echo", alone, tools=[SEARCH]))
    ).tool_calls
    assert json.loads(call.arguments) == {"query": "What is it?"}


async def test_echo_answers_with_the_best_sentence_of_the_best_hit_and_its_citation() -> None:
    messages = [
        Message("user", "What happens after a crash?"),
        Message("assistant", "", [ToolCall("call_0_0", "search_knowledge", "{}")]),
        searched(
            [
                {"citation": "[docs/durability#0]", "text": PASSAGE},
                {"citation": "[docs/other#2]", "text": "A crash is rare."},
            ]
        ),
    ]
    response = await OfflineProvider().complete(ModelRequest("echo", messages, tools=[SEARCH]))
    assert response.tool_calls == []
    assert response.text == (
        "After a crash a restarted worker takes the run back and continues. [docs/durability#0]"
    )


async def test_echo_says_when_the_search_found_nothing_or_failed() -> None:
    asked = [
        Message("user", "Who wrote it?"),
        Message("assistant", "", [ToolCall("call_0_0", "search_knowledge", "{}")]),
    ]
    provider = OfflineProvider()
    nothing = await provider.complete(ModelRequest("echo", [*asked, searched([])], tools=[SEARCH]))
    assert nothing.text == "I found nothing in the knowledge base about: Who wrote it?"
    failed = Message("tool", "error: the query is empty", tool_call_id="c", name="search_knowledge")
    error = await provider.complete(ModelRequest("echo", [*asked, failed], tools=[SEARCH]))
    assert error.text == "I could not search the knowledge base: error: the query is empty"


async def test_echo_searches_again_for_a_new_message_of_the_conversation() -> None:
    messages = [
        Message("user", "What happens after a crash?"),
        Message("assistant", "", [ToolCall("call_0_0", "search_knowledge", "{}")]),
        searched([{"citation": "[docs/durability#0]", "text": PASSAGE}]),
        Message("assistant", "After a crash … [docs/durability#0]"),
        Message("user", "And gates?"),
    ]
    response = await OfflineProvider().complete(ModelRequest("echo", messages, tools=[SEARCH]))
    [call] = response.tool_calls
    assert call.id == "call_2_0" and json.loads(call.arguments) == {"query": "gates"}


async def test_echo_answers_from_a_prepended_knowledge_context() -> None:
    context = "\n".join(
        [
            f"{KNOWLEDGE_CONTEXT} (from docs; cite what you use by its [namespace/key#chunk]):",
            "",
            "[docs/durability#0]",
            PASSAGE,
            "",
            "[docs/other#1]",
            "Other words.",
        ]
    )
    messages = [Message("system", context), Message("user", "Does anything run again?")]
    response = await OfflineProvider().complete(request("echo", messages))
    assert response.text == "Nothing that finished runs again. [docs/durability#0]"


def test_the_best_sentence_is_the_first_of_those_sharing_the_most_words() -> None:
    assert best_sentence("One apple. Two pears here. Two apples here.", "apples here") == (
        "Two apples here."
    )
    assert best_sentence("# Title\nFirst. Second.", "nothing in common") == "First."


async def test_echo_searches_the_message_not_the_metadata_request_and_answers_it() -> None:
    task = f"Does a crash lose anything?\n\n{metadata_request(['lead_score'])}"
    provider = OfflineProvider()
    asked = await provider.complete(ModelRequest("echo", [Message("user", task)], tools=[SEARCH]))
    [call] = asked.tool_calls
    assert json.loads(call.arguments) == {"query": "crash lose anything"}
    messages = [
        Message("user", task),
        Message("assistant", "", [call]),
        searched([{"citation": "[docs/durability#0]", "text": PASSAGE}]),
    ]
    response = await provider.complete(ModelRequest("echo", messages, tools=[SEARCH]))
    answer, metadata = split_metadata(response.text)
    assert (
        answer
        == "After a crash a restarted worker takes the run back and continues. [docs/durability#0]"
    )
    assert metadata == {"lead_score": lead_score("Does a crash lose anything?\n\n")}
