"""The orchestrator's decisions, with no I/O (docs/packs/orchestrator.md): split a request
into tasks, find the words of a task that name a capability, tell a vague request, plan
batches from the tasks' dependencies, and read the user's answer to a question.

Offline (and as the fallback when a model's answer is not usable) the request is split by a
deterministic splitter: on `;`, sentence ends, `then` and `and`. A task that begins with
`then`, or refers to what came before (`it`, `that`, `the result`…), depends on the task
before it; the others are independent and run in the same batch.
"""

from __future__ import annotations

import re
from typing import Any

# Words that say nothing about the capability a task needs.
_STOPWORD_TEXT = """a about above after again against all also am an and any are as at be
    been before
    being below between both but by can could did do does doing done down during each few
    for from further get give go had has have having he her here hers him his how i if in
    into is it its itself just let lets me more most my myself need needs no nor not now of
    off on once only or other our ours out over own please same she should so some such
    than that the their theirs them then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you
    your yours yourself want wants wanted like find found show tell help make makes made
    something anything thing things stuff someone somebody agent agents one ok okay hi hello
    hey thanks thank use using able know look looking try trying maybe kind sort bit lot
    could i'd i'm i'll it's that's"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# Words that refer to a previous task's result: a task using one depends on the one before.
REFERENCES = re.compile(
    r"\b(it|that|this|them|those|these|the result|the results|the answer|the output|"
    r"the summary|the translation|the forecast|the text|above)\b",
    re.IGNORECASE,
)
_SENTENCES = re.compile(r"(?<=[.!?])\s+|;|\n+")
# `then` (", then", "and then", "then") and `and` between two tasks.
_THEN = re.compile(r"\s*,?\s*\band then\b\s*|\s*,\s*then\b\s*|\s+\bthen\b\s+", re.IGNORECASE)
_AND = re.compile(r"\s*,?\s+\band\b\s+|\s*,\s*also\s+", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
_LEADING_THEN = re.compile(r"^(then|and then|and|also|next|after that|afterwards)\b[\s,]*", re.I)
SKIP_ANSWERS = frozenset({"skip", "drop", "no", "none", "cancel", "leave it", "leave it out"})


def split_request(request: str, max_tasks: int) -> list[dict[str, Any]]:
    """The tasks of a request, in order: `[{"id": "t1", "text", "depends_on": [ids]}]`."""
    pieces: list[tuple[str, bool]] = []  # (text, follows a "then")
    for sentence in _SENTENCES.split(request):
        for index, part in enumerate(_THEN.split(sentence)):
            for number, piece in enumerate(_AND.split(part)):
                pieces.append((piece, index > 0 and number == 0))
    tasks: list[dict[str, Any]] = []
    for text, after_then in pieces:
        text = text.strip(" \t,.;:!")
        leading = _LEADING_THEN.match(text)
        if leading:
            after_then = after_then or leading.group(1).lower() != "and"
            text = text[leading.end() :].strip()
        if not text:
            continue
        depends = bool(tasks) and (after_then or REFERENCES.search(text) is not None)
        if tasks and not capability_terms(text) and not depends:
            # A fragment with no capability of its own ("and quickly") belongs to the task
            # before it.
            tasks[-1]["text"] = f"{tasks[-1]['text']} and {text}"
            continue
        tasks.append(
            {
                "id": f"t{len(tasks) + 1}",
                "text": text,
                "depends_on": [tasks[-1]["id"]] if depends else [],
            }
        )
    return tasks[:max_tasks]


def capability_terms(text: str) -> list[str]:
    """The words of a task that can name a capability, in order, without repeats."""
    seen: list[str] = []
    for word in _WORD.findall(text.lower()):
        word = word.strip("'-")
        if len(word) < 2 or word in STOPWORDS or word.isdigit() or word in seen:
            continue
        seen.append(word)
    return seen


def is_vague(request: str) -> bool:
    """Whether a request names no task at all ("help me", "do something")."""
    return not capability_terms(request)


def plan_batches(tasks: list[dict[str, Any]]) -> list[list[str]]:
    """Batches of task ids: a task runs in the first batch after every task it depends on;
    the tasks of one batch are independent and run in parallel."""
    level: dict[str, int] = {}
    for task in tasks:
        earlier = [level[d] for d in task.get("depends_on", []) if d in level]
        level[task["id"]] = max(earlier, default=-1) + 1
    batches: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for task in tasks:
        batches[level[task["id"]]].append(task["id"])
    return batches


def is_skip(answer: str) -> bool:
    """Whether the user's answer to "no agent can do this" leaves the task out."""
    return answer.strip().strip(".!").lower() in SKIP_ANSWERS


def answer_text(answer: Any) -> str:
    """The user's answer as text (an answer may be any JSON value)."""
    if isinstance(answer, str):
        return answer.strip()
    if isinstance(answer, dict) and isinstance(answer.get("response"), str):
        return str(answer["response"]).strip()
    return str(answer).strip()


PARSE_INSTRUCTIONS = """You split a user's request into the tasks agents should do. Answer
with JSON only: {"tasks": [{"text": "...", "depends_on_previous": false}, ...]}. Each task
is one thing one agent can do, written so that it stands on its own; set
depends_on_previous when the task needs the result of the task before it. A request that
names no task at all ("help me") is {"tasks": []}. No prose, no code fences."""


def tasks_from_model(answer: Any, max_tasks: int) -> list[dict[str, Any]] | None:
    """The tasks a model's parse answer lists, or None when it is not such an answer (the
    splitter is used instead)."""
    tasks = answer.get("tasks") if isinstance(answer, dict) else answer
    if not isinstance(tasks, list):
        return None
    found: list[dict[str, Any]] = []
    for item in tasks[:max_tasks]:
        text = item.get("text") if isinstance(item, dict) else item
        if not isinstance(text, str) or not text.strip():
            return None
        depends = isinstance(item, dict) and item.get("depends_on_previous") is True
        found.append(
            {
                "id": f"t{len(found) + 1}",
                "text": text.strip()[:2000],
                "depends_on": [found[-1]["id"]] if depends and found else [],
            }
        )
    return found
