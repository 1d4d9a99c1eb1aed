"""Side effects that never run twice in doubt (docs/side-effects.md).

A call declares its effect: `read` and `idempotent` calls run again after a crash (an
idempotent one with the same idempotency key), as undeclared calls always did. A
`side_effect` call writes a "started" marker in a transaction of its own before it runs; a
marker without a result on the next claim means its process died inside the call, and the
step waits with an `in_doubt` interrupt (or asks the call's `reconcile` first) instead of
calling it again. The answer decides: `done` with the result, `retry`, or `fail`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from podium.errors import AnswerInvalid

Effect = Literal["read", "idempotent", "side_effect"]
EFFECTS: tuple[str, ...] = ("read", "idempotent", "side_effect")

# Recorded calls of a side effect, beside its result (`key`): attempt n started, and the
# decision about attempt n when it was left in doubt.
STARTED = "__started__:"
DOUBT = "__doubt__:"
IN_DOUBT = "in_doubt"  # the interrupt's kind
MAX_QUESTION_ARGUMENTS = 2_000  # characters of the arguments shown in the question

ANSWER_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {
            "type": "object",
            "properties": {"action": {"const": "done"}, "result": {}},
            "required": ["action"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"action": {"const": "retry"}},
            "required": ["action"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"action": {"const": "fail"}, "reason": {"type": "string"}},
            "required": ["action", "reason"],
            "additionalProperties": False,
        },
    ]
}
ANSWERS = (
    '{"action": "done", "result": ...}, {"action": "retry"} or {"action": "fail", "reason": "..."}'
)


class SideEffectFailed(Exception):
    """A side effect left in doubt was answered `fail`: the node fails with the reason."""


def check_effect(effect: str | None) -> None:
    if effect is not None and effect not in EFFECTS:
        raise ValueError(f"effect {effect!r} must be one of {', '.join(EFFECTS)} (or None)")


def idempotency_key(run_id: str, node_id: str, iteration: int, call_key: str) -> str:
    """The key a call passes to the outside: the same for every attempt of the call (after a
    crash, a retry, an answer), another for any other call."""
    digest = hashlib.sha256(f"{run_id}\x00{node_id}\x00{iteration}\x00{call_key}".encode())
    return f"pdm-{digest.hexdigest()[:40]}"


def started_key(attempt: int, call_key: str) -> str:
    return f"{STARTED}{attempt}:{call_key}"


def doubt_key(attempt: int, call_key: str) -> str:
    return f"{DOUBT}{attempt}:{call_key}"


def question(name: str, node_id: str, arguments: Any) -> str:
    shown = json.dumps(arguments, ensure_ascii=False, sort_keys=True)
    if len(shown) > MAX_QUESTION_ARGUMENTS:
        shown = shown[:MAX_QUESTION_ARGUMENTS] + "…"
    return (
        f"in doubt: {name} was called by node {node_id!r} with {shown}, and no result was "
        "recorded (its process died, or the call failed, during it). Did it take effect? "
        "Answer " + ANSWERS
    )


def check_decision(answer: Any) -> dict[str, Any]:
    """The answer to an `in_doubt` interrupt (or a reconcile function's), or InvalidInput
    saying what is wrong with it (422)."""
    if not isinstance(answer, dict) or answer.get("action") not in ("done", "retry", "fail"):
        raise AnswerInvalid(
            f"an in_doubt question is answered with {ANSWERS}",
            details={"schema": ANSWER_SCHEMA},
        )
    action = answer["action"]
    allowed = {"done": {"action", "result"}, "retry": {"action"}, "fail": {"action", "reason"}}
    extra = sorted(set(answer) - allowed[action])
    if extra:
        raise AnswerInvalid(
            f"the {action!r} answer to an in_doubt question takes no {', '.join(extra)}",
            details={"schema": ANSWER_SCHEMA},
        )
    if action == "fail" and not (isinstance(answer.get("reason"), str) and answer["reason"]):
        raise AnswerInvalid(
            "the 'fail' answer to an in_doubt question needs a reason (a non-empty string)",
            details={"schema": ANSWER_SCHEMA},
        )
    return answer
