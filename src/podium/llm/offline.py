"""`offline`: the built-in provider. Deterministic, no network, no weights.

- `offline/echo` answers with the last user message, streamed word by word.
- `offline/script` plays the turns listed in the agent's configuration (`script`), one per
  model call: `{"text": "..."}` or `{"tool_calls": [{"name": "...", "arguments": {...}}]}`.
  The turn played is the number of assistant messages so far, so a replayed conversation
  gets the same answer and a chat goes on through the script across messages.

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
_WORDS = re.compile(r"\S+\s*")


def count_tokens(text: str) -> int:
    return len(text.split())


class OfflineProvider:
    name = "offline"

    async def complete(
        self, request: ModelRequest, on_delta: DeltaSink | None = None
    ) -> ModelResponse:
        if request.model == "echo":
            response = ModelResponse(text=_last_user_text(request), finish_reason="stop")
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


def _scripted(request: ModelRequest) -> ModelResponse:
    turns = request.options.get("script")
    if not isinstance(turns, list):
        raise ProviderError(
            "offline",
            "script",
            "offline/script needs the agent's `script`: a list of turns such as "
            '{"text": "Hello"} or {"tool_calls": [{"name": "lookup", "arguments": {}}]}',
        )
    played = sum(1 for message in request.messages if message.role == "assistant")
    if played >= len(turns):
        return ModelResponse(text=SCRIPT_DONE, finish_reason="stop")
    turn = turns[played]
    if not isinstance(turn, dict):
        raise ProviderError("offline", "script", f"script turn {played} is not an object")
    calls = [
        ToolCall(
            id=f"call_{played}_{index}",
            name=str(call.get("name", "")),
            arguments=_arguments_text(call.get("arguments", {})),
        )
        for index, call in enumerate(turn.get("tool_calls") or [])
    ]
    return ModelResponse(
        text=str(turn.get("text", "")),
        tool_calls=calls,
        finish_reason="tool_calls" if calls else "stop",
    )


def _arguments_text(arguments: Any) -> str:
    # A string is passed on as the model's raw text (a script may hold broken JSON on purpose).
    return arguments if isinstance(arguments, str) else json.dumps(arguments)
