"""`offline`: the built-in provider. Deterministic, no network, no weights.

- `offline/echo` answers with the last user message, streamed word by word. When that
  message asks for JSON metadata (the sentence an `agent` node with `metadata_key` appends,
  `METADATA_REQUEST`), the sentence is left out and the answer ends with the object asked
  for: each key with "score" in its name gets `lead_score(message)`, any other key `null`.
- `offline/echo` answers from knowledge when it is given some. Offered the tool
  `search_knowledge`, it calls it with the key words of the user's message (its words
  without common ones such as "what", "is", "the"; once per message); given the
  result, it answers with the sentence of the best passage that shares the most words with
  the message, followed by the passage's citation `[namespace/key#chunk]`. Given passages
  in a context message (an agent with `knowledge.prepend`, `KNOWLEDGE_CONTEXT`), it answers
  from the first passage the same way.
- `offline/script` plays the turns listed in the agent's configuration (`script`), one per
  model call. A turn is an object with the keys of `TURN_KEYS`: `{"text": "..."}`,
  `{"tool_calls": [{"name": "...", "arguments": {...}}]}`, and `metadata` (an object put
  at the end of the text as its JSON tail). The turn played is the number of assistant
  messages so far, so a replayed conversation gets the same answer and a chat goes on
  through the script across messages.

Token usage counts words, so that budgets and usage reports behave as with a real model.
"""

from __future__ import annotations

import json
import re
from typing import Any

from podium.llm.base import (
    DeltaSink,
    Health,
    ModelRequest,
    ModelResponse,
    ProviderError,
    ToolCall,
    Usage,
)

MODELS = ("echo", "script")
SCRIPT_DONE = "(the script has no more turns)"
TURN_KEYS = ("text", "tool_calls", "metadata")
TOOL_CALL_KEYS = ("name", "arguments")
TURN_EXAMPLE = (
    '{"text": "Hello"}, {"tool_calls": [{"name": "lookup", "arguments": {"q": "x"}}]} or '
    '{"text": "A warm lead.", "metadata": {"lead_score": 85}}'
)
# The sentence that asks a model for JSON metadata (podium.agents.metadata writes it): the
# echo model recognises it by this start and reads the keys from its example object.
METADATA_REQUEST = "End your answer with one JSON object of metadata"
_REQUEST = re.compile(
    r"\s*" + re.escape(METADATA_REQUEST) + r"[^\n]*?for example (?P<example>\{.*\})\.\s*\Z",
    re.DOTALL,
)
_EXAMPLE_KEY = re.compile(r'"((?:[^"\\]|\\.)*)": \.\.\.')
_WORDS = re.compile(r"\S+\s*")
# The knowledge tool, and the first words of the context message an agent with
# `knowledge.prepend` gets (podium.tools.knowledge writes it): the echo answers from them.
SEARCH_TOOL = "search_knowledge"
KNOWLEDGE_CONTEXT = "Knowledge retrieved for this message"
MAX_QUERY_CHARS = 1000
_CITATION_LINE = re.compile(r"^(\[[^\]\n]+/[^\]\n]+#\d+\])$", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_QUERY_WORD = re.compile(r"[^\W_]+")
# Words too common to say which sentence answers a question.
_STOPWORDS = (
    "a about am an and any are as at be been by can could did do does explain for from has "
    "have how i if in is it its me my of on or our please should so tell than that the their "
    "them then there these they this those to us was we were what when where which who why "
    "will with would you your"
)
STOPWORDS = frozenset(_STOPWORDS.split())

# The echo model's lead score: 40, plus the points of each kind of signal the message has.
# Few words, so that a reader can say why a message got its score.
SCORE_BASE = 40
SCORE_SIGNALS: tuple[tuple[str, int, str], ...] = (
    ("a need", 20, "need needs needed want wants looking build create hire help require "
     "redesign launch improve grow"),
    ("a service", 20, "website websites site web app apps application shop store ecommerce "
     "e-commerce seo marketing campaign ads branding brand design logo"),
    ("a budget", 10, "budget quote price pricing cost invest $ € £ usd eur"),
    ("urgency", 10, "asap urgent urgently soon deadline immediately today tomorrow"),
)  # fmt: skip
_TOKEN = re.compile(r"[$€£]|[a-z][a-z0-9-]*")


def count_tokens(text: str) -> int:
    return len(text.split())


def lead_score(text: str) -> int:
    """The echo model's deterministic score of a message, 40 to 100 (see SCORE_SIGNALS)."""
    words = set(_TOKEN.findall(text.lower()))
    return SCORE_BASE + sum(
        points for _, points, signal in SCORE_SIGNALS if words.intersection(signal.split())
    )


def script_problems(turns: Any) -> list[str]:
    """What is wrong with an `offline/script` script, one sentence per problem ([] if none)."""
    if not isinstance(turns, list):
        return [f"a script is a list of turns such as {TURN_EXAMPLE}"]
    problems: list[str] = []
    allowed = ", ".join(TURN_KEYS)
    for index, turn in enumerate(turns):
        where = f"turn {index}"
        if not isinstance(turn, dict):
            problems.append(f"{where} is not an object; a turn is such as {TURN_EXAMPLE}")
            continue
        unknown = [key for key in turn if key not in TURN_KEYS]
        if unknown:
            problems.append(
                f"{where} has the unknown key{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, unknown))}; a turn's keys are {allowed}"
            )
        elif not any(key in turn for key in TURN_KEYS):
            problems.append(f"{where} says nothing: give it at least one of {allowed}")
        if "text" in turn and not isinstance(turn["text"], str):
            problems.append(f"{where}: text is a string")
        if "metadata" in turn and not isinstance(turn["metadata"], dict):
            problems.append(f'{where}: metadata is an object, e.g. {{"lead_score": 85}}')
        problems += _tool_call_problems(where, turn.get("tool_calls"))
    return problems


def _tool_call_problems(where: str, calls: Any) -> list[str]:
    if calls is None:
        return []
    if not isinstance(calls, list):
        return [f'{where}: tool_calls is a list such as [{{"name": "lookup", "arguments": {{}}}}]']
    problems = []
    for index, call in enumerate(calls):
        at = f"{where}, tool call {index}"
        if not isinstance(call, dict):
            problems.append(f"{at} is not an object with {', '.join(TOOL_CALL_KEYS)}")
            continue
        unknown = [key for key in call if key not in TOOL_CALL_KEYS]
        if unknown:
            problems.append(
                f"{at} has the unknown key{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, unknown))}; a tool call's keys are "
                f"{', '.join(TOOL_CALL_KEYS)}"
            )
        if not isinstance(call.get("name"), str) or not call["name"]:
            problems.append(f"{at} needs a name (the tool's)")
        arguments = call.get("arguments", {})
        if not isinstance(arguments, dict | str):
            problems.append(f"{at}: arguments is an object (or a string, sent as it is)")
    return problems


class OfflineProvider:
    name = "offline"

    async def complete(
        self, request: ModelRequest, on_delta: DeltaSink | None = None
    ) -> ModelResponse:
        if request.model == "echo":
            response = _from_knowledge(request) or ModelResponse(
                text=_echo(_last_user_text(request)), finish_reason="stop"
            )
        elif request.model == "script":
            response = _scripted(request)
        else:
            raise ProviderError(
                "offline", request.model, f"unknown offline model; use one of {list(MODELS)}"
            )
        if on_delta is not None and response.text:
            for word in _WORDS.findall(response.text):
                on_delta(word)
        prompt = sum(count_tokens(m.content) for m in request.messages)
        answer = count_tokens(response.text) + sum(
            count_tokens(c.arguments) for c in response.tool_calls
        )
        response.usage = Usage(prompt, answer)
        response.model = f"offline/{request.model}"
        return response

    async def health(self) -> Health:
        return Health(True, "built in")


def _last_user_text(request: ModelRequest) -> str:
    for message in reversed(request.messages):
        if message.role == "user":
            return message.content
    return ""


def _from_knowledge(request: ModelRequest) -> ModelResponse | None:
    """The echo's turn when it has knowledge to use: a search for the user's message, or an
    answer from what a search (or a context message) found; None when it has none."""
    messages = request.messages
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    # A node asking for metadata gets it at the end of the answer, as from the echo.
    question, metadata = _metadata_asked(messages[last_user].content if last_user >= 0 else "")
    question = question.strip()
    if any(spec.name == SEARCH_TOOL for spec in request.tools):
        results = [
            m for m in messages[last_user + 1 :] if m.role == "tool" and m.name == SEARCH_TOOL
        ]
        if results:
            return _answer(question, _searched(results[-1].content), metadata)
        if not question:
            return None
        played = sum(1 for m in messages if m.role == "assistant")
        query = search_words(question)[:MAX_QUERY_CHARS].strip()
        call = ToolCall(
            id=f"call_{played}_0",
            name=SEARCH_TOOL,
            arguments=json.dumps({"query": query}, ensure_ascii=False),
        )
        return ModelResponse(tool_calls=[call], finish_reason="tool_calls")
    for message in messages:
        if message.role == "system" and message.content.startswith(KNOWLEDGE_CONTEXT):
            return _answer(question, _in_context(message.content), metadata)
    return None


def _searched(content: str) -> list[tuple[str, str]] | str:
    """(citation, text) of each passage of a `search_knowledge` result, best first; the
    result itself when it is not one (an error the tool reported)."""
    try:
        result = json.loads(content)
    except ValueError:
        return content
    if not isinstance(result, dict) or not isinstance(result.get("hits"), list):
        return content
    return [
        (str(hit.get("citation", "")), str(hit.get("text", "")))
        for hit in result["hits"]
        if isinstance(hit, dict)
    ]


def _in_context(content: str) -> list[tuple[str, str]]:
    parts = _CITATION_LINE.split(content)
    return [(parts[i], parts[i + 1].strip()) for i in range(1, len(parts) - 1, 2)]


def _answer(
    question: str, passages: list[tuple[str, str]] | str, metadata: dict[str, Any] | None
) -> ModelResponse:
    if isinstance(passages, str):
        text = f"I could not search the knowledge base: {passages}"
    elif not passages:
        text = f"I found nothing in the knowledge base about: {question}"
    else:
        cited, passage = passages[0]
        text = f"{best_sentence(passage, question)} {cited}"
    if metadata is not None:
        text = _with_metadata(text, metadata)
    return ModelResponse(text=text, finish_reason="stop")


def best_sentence(passage: str, question: str) -> str:
    """The sentence of `passage` that shares the most words with `question` (the first of
    those that tie; Markdown headings left out)."""
    body = " ".join(
        line.strip() for line in passage.splitlines() if line.strip() and not line.startswith("#")
    )
    sentences = [s for s in _SENTENCE_END.split(body) if s] or [passage.strip()]
    wanted = _content_words(question)
    return max(sentences, key=lambda s: len(wanted & _content_words(s)))


def search_words(question: str) -> str:
    """What the echo searches for: the question's words without the common ones, in order
    (the question itself when only common words are left)."""
    words = [w for w in _QUERY_WORD.findall(question) if w.lower() not in STOPWORDS]
    return " ".join(words) or question


def _content_words(text: str) -> set[str]:
    words = (w.lower() for w in _QUERY_WORD.findall(text))
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in STOPWORDS}


def _echo(text: str) -> str:
    """The message; when it ends by asking for metadata, the message and the metadata."""
    message, metadata = _metadata_asked(text)
    return text if metadata is None else _with_metadata(message, metadata)


def _metadata_asked(text: str) -> tuple[str, dict[str, Any] | None]:
    """The message without the request for metadata it ends with, and the metadata the echo
    answers it with (None when it asks for none)."""
    asked = _REQUEST.search(text)
    if asked is None:
        return text, None
    message = text[: asked.start()]
    keys = [key for key in map(_json_string, _EXAMPLE_KEY.findall(asked.group("example"))) if key]
    score = lead_score(message)
    metadata = {key: score if "score" in key.lower() else None for key in keys}
    return message, metadata or {"lead_score": score}


def _json_string(body: str) -> str | None:
    """The key a JSON string's body spells; None for one that is not JSON (a user can type
    the request sentence too)."""
    try:
        key = json.loads(f'"{body}"')
    except json.JSONDecodeError:
        return None
    return key if isinstance(key, str) else None


def _with_metadata(text: str, metadata: dict[str, Any]) -> str:
    tail = json.dumps(metadata, ensure_ascii=False)
    return f"{text.rstrip()}\n{tail}" if text.strip() else tail


def _scripted(request: ModelRequest) -> ModelResponse:
    turns = request.options.get("script")
    if not isinstance(turns, list):
        raise ProviderError(
            "offline",
            "script",
            f"offline/script needs the agent's `script`: a list of turns such as {TURN_EXAMPLE}",
        )
    played = sum(1 for message in request.messages if message.role == "assistant")
    if played >= len(turns):
        return ModelResponse(text=SCRIPT_DONE, finish_reason="stop")
    turn = turns[played]
    # A definition stored before scripts were checked may hold a turn that plays nothing
    # (`{"content": ...}`): refused when played, rather than answered with "".
    problems = script_problems([turn])
    if problems:
        raise ProviderError(
            "offline", "script", f"script {problems[0].replace('turn 0', f'turn {played}', 1)}"
        )
    calls = [
        ToolCall(
            id=f"call_{played}_{index}",
            name=str(call["name"]),
            arguments=_arguments_text(call.get("arguments", {})),
        )
        for index, call in enumerate(turn.get("tool_calls") or [])
    ]
    text = str(turn.get("text", ""))
    if "metadata" in turn:
        text = _with_metadata(text, turn["metadata"])
    return ModelResponse(
        text=text, tool_calls=calls, finish_reason="tool_calls" if calls else "stop"
    )


def _arguments_text(arguments: Any) -> str:
    # A string is passed on as the model's raw text (a script may hold broken JSON on purpose).
    return arguments if isinstance(arguments, str) else json.dumps(arguments)
