"""`anthropic`: the Messages API, through the official `anthropic` SDK.

System messages become `system=`; tool results become user messages of `tool_result`
blocks (consecutive results in one message); assistant tool calls become `tool_use` blocks.
Answers are always streamed (`message_start`, `content_block_*`, `message_delta`,
`message_stop`), text reaching `on_delta` as it is generated. The SDK's own retries are off:
`with_retries` retries 429, 5xx (529 overloaded too), timeouts and connection errors with
backoff, unless text was already streamed. (The client per event loop, the retries, the error
messages and the health check are `podium.llm.sdk`'s, shared with `openai`.)

The key is sent as `x-api-key`, the header Anthropic documents. (The installed SDK, 2.x,
sends `api_key` as `Authorization: Bearer …`; that header is dropped.)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, cast

import anthropic
from anthropic.types import (
    ContentBlockParam,
    MessageParam,
    ToolParam,
    ToolResultBlockParam,
)

from podium import jsonvalue
from podium.egress import guarded_client, reason_phrase
from podium.errors import JSONValueInvalid
from podium.llm.base import Message, ModelRequest, ModelResponse, ToolCall, ToolSpec, Usage
from podium.llm.providers import ProviderConfig
from podium.llm.sdk import MAX_ERROR_TEXT, NO_KEY, SDKProvider, StreamedSink

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
DEFAULT_MAX_TOKENS = 4096
# An `error` event in a stream arrives on a 200 answer: its type says what it was.
_STREAM_ERROR_STATUS = {
    "overloaded_error": 529,
    "api_error": 500,
    "rate_limit_error": 429,
    "timeout_error": 504,
}
# Anthropic's stop reasons in the words the rest of Podium (and OpenAI) use.
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
}


class AnthropicProvider(SDKProvider[anthropic.AsyncAnthropic, anthropic.APIStatusError]):
    """A provider speaking Anthropic's Messages API. `retry` overrides the configuration's
    retry policy (tests use short delays)."""

    _sdk_error = anthropic.AnthropicError  # (it does not wrap httpx2's errors mid-stream)
    _status_error = anthropic.APIStatusError
    _timeout_error = anthropic.APITimeoutError
    _connection_error = anthropic.APIConnectionError
    _api_error = anthropic.APIError

    @staticmethod
    def _default_base_url(config: ProviderConfig) -> str:
        # The SDK adds `/v1/…` itself; a base URL configured as `…/v1` would double it.
        base_url = (config.base_url or ANTHROPIC_BASE_URL).rstrip("/")
        return base_url.removesuffix("/v1") or base_url

    def _make_client(self) -> anthropic.AsyncAnthropic:
        key = self.config.api_key or NO_KEY
        # `api_key=` keeps the SDK from looking for credentials in the environment and
        # on disk; the header it would send is replaced by `x-api-key`.
        headers = cast(dict[str, str], {"x-api-key": key, "Authorization": anthropic.omit})
        return anthropic.AsyncAnthropic(
            api_key=key,
            base_url=self.base_url,
            timeout=self.config.timeout_seconds,
            max_retries=0,
            default_headers=headers,
            http_client=guarded_client(timeout=self.config.timeout_seconds, follow_redirects=True),
        )

    async def _attempt(
        self, client: anthropic.AsyncAnthropic, request: ModelRequest, on_delta: StreamedSink
    ) -> ModelResponse:
        system, messages = to_anthropic_messages(request.messages)
        state = _Stream()
        stream = await client.messages.create(
            model=request.model,
            max_tokens=request.max_tokens or DEFAULT_MAX_TOKENS,
            messages=messages,
            system=system if system else anthropic.omit,
            tools=to_anthropic_tools(request.tools) if request.tools else anthropic.omit,
            # This SDK version has no `temperature` argument; the API takes the field.
            extra_body=(
                {"temperature": request.temperature} if request.temperature is not None else None
            ),
            stream=True,
        )
        async with stream:
            async for event in stream:
                if event.type == "message_start":
                    state.model = event.message.model
                    usage = event.message.usage
                    state.input_tokens = _input_tokens(usage)
                    state.output_tokens = usage.output_tokens or 0
                elif event.type == "content_block_start":
                    block = event.content_block
                    if block.type == "tool_use":
                        state.calls[event.index] = _Call(
                            block.id, block.name, json.dumps(block.input) if block.input else ""
                        )
                    elif block.type == "text" and block.text:
                        state.emit(block.text, on_delta)
                elif event.type == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta":
                        state.emit(delta.text, on_delta)
                    elif delta.type == "input_json_delta" and event.index in state.calls:
                        state.calls[event.index].partial(delta.partial_json)
                elif event.type == "message_delta":
                    if event.delta.stop_reason:
                        state.stop_reason = event.delta.stop_reason
                    state.output_tokens = event.usage.output_tokens
                    if event.usage.input_tokens is not None:
                        state.input_tokens = _input_tokens(event.usage)
        reason = state.stop_reason
        return ModelResponse(
            text="".join(state.text),
            tool_calls=[call.done() for _, call in sorted(state.calls.items())],
            usage=Usage(state.input_tokens, state.output_tokens),
            finish_reason=_FINISH_REASONS.get(reason, reason) if reason else None,
            model=f"{self.name}/{state.model or request.model}",
        )

    def _status(self, exc: anthropic.APIStatusError) -> tuple[str, int | None]:
        message = _status_text(exc)
        if exc.status_code == 200:  # an `error` event in the stream
            status = _STREAM_ERROR_STATUS.get(exc.type or "")
            return f"{exc.type or 'error'} during the stream: {message}", status
        return message, exc.status_code

    def _status_line(self, exc: anthropic.APIStatusError, status: int | None) -> str:
        if exc.status_code == 200:  # the event's type (an identifier such as overloaded_error)
            kind = exc.type if re.fullmatch(r"[a-z_]{1,40}", exc.type or "") else "error"
            return f"{kind} during the stream"
        return reason_phrase(status)


@dataclass
class _Call:
    id: str
    name: str
    start_input: str = ""
    parts: list[str] = field(default_factory=list)

    def partial(self, text: str) -> None:
        self.parts.append(text)

    def done(self) -> ToolCall:
        return ToolCall(self.id, self.name, "".join(self.parts) or self.start_input or "{}")


@dataclass
class _Stream:
    """What the events of one streamed answer add up to."""

    text: list[str] = field(default_factory=list)
    calls: dict[int, _Call] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    stop_reason: str | None = None
    model: str | None = None

    def emit(self, text: str, on_delta: StreamedSink) -> None:
        if not text:
            return
        self.text.append(text)
        on_delta(text)


def _input_tokens(usage: Any) -> int:
    """All the input tokens: uncached, written to the cache and read from it."""
    return sum(
        getattr(usage, name, None) or 0
        for name in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )


def to_anthropic_messages(messages: list[Message]) -> tuple[str, list[MessageParam]]:
    """Our messages as (system prompt, Messages API messages)."""
    system: list[str] = []
    result: list[MessageParam] = []
    results: list[ToolResultBlockParam] | None = None  # the tool results being gathered
    for message in messages:
        if message.role == "tool":
            block: ToolResultBlockParam = {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id or "",
                "content": message.content,
            }
            if results is None:
                results = [block]
                result.append({"role": "user", "content": results})
            else:
                results.append(block)
            continue
        results = None
        if message.role == "system":
            if message.content:
                system.append(message.content)
        elif message.role == "user":
            result.append({"role": "user", "content": message.content})
        else:
            content: list[ContentBlockParam] = []
            if message.content:
                content.append({"type": "text", "text": message.content})
            for call in message.tool_calls:
                content.append(
                    {"type": "tool_use", "id": call.id, "name": call.name, "input": _input(call)}
                )
            if content:  # the API refuses an empty assistant message
                result.append({"role": "assistant", "content": content})
    return "\n\n".join(system), result


def _input(call: ToolCall) -> dict[str, object]:
    """A tool call's arguments as the object `tool_use` needs ({} when not a JSON object)."""
    try:  # the one JSON boundary, as every model output
        value = jsonvalue.loads(call.arguments, "tool-call arguments") if call.arguments else {}
    except JSONValueInvalid:
        return {}
    return value if isinstance(value, dict) else {}


def to_anthropic_tools(tools: list[ToolSpec]) -> list[ToolParam]:
    return [
        {
            "name": tool.name,
            "description": tool.description,
            "input_schema": cast(Any, tool.parameters),
        }
        for tool in tools
    ]


def _status_text(exc: anthropic.APIStatusError) -> str:
    """What the server said: `error.message` of the JSON body, else the body's text."""
    if exc.api_message:
        return exc.api_message
    body = exc.body
    if isinstance(body, str) and body.strip():
        return body.strip()[:MAX_ERROR_TEXT]
    if body is not None:
        return json.dumps(body, default=str)[:MAX_ERROR_TEXT]
    return exc.message
