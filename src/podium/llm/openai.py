"""`openai` (and `ollama`): the chat-completions API, through the official `openai` SDK.

Any server that speaks OpenAI's chat completions works (OpenAI, Ollama, vLLM, Mistral,
OpenRouter, …): the configuration gives the base URL and key. Answers are always streamed,
so text reaches `on_delta` as it is generated; tool calls are assembled from their streamed
pieces. The SDK's own retries are off: `with_retries` retries 429, 5xx, timeouts and
connection errors with backoff, unless text was already streamed. (The client per event loop,
the retries, the error messages and the health check are `podium.llm.sdk`'s, shared with
`anthropic`.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import openai
from openai.types.chat import (
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageParam,
)

from podium.egress import guarded_client
from podium.llm.base import (
    Message,
    ModelRequest,
    ModelResponse,
    ToolCall,
    ToolSpec,
    Usage,
)
from podium.llm.providers import OLLAMA_BASE_URL, OPENAI_BASE_URL, ProviderConfig
from podium.llm.sdk import MAX_ERROR_TEXT, NO_KEY, SDKProvider, StreamedSink


class OpenAIProvider(SDKProvider[openai.AsyncOpenAI, openai.APIStatusError]):
    """A provider speaking OpenAI's chat-completions protocol. `retry` overrides the
    configuration's retry policy (tests use short delays)."""

    _sdk_error = openai.OpenAIError  # (the SDK wraps most of httpx2's errors, not all)
    _status_error = openai.APIStatusError
    _timeout_error = openai.APITimeoutError
    _connection_error = openai.APIConnectionError
    _api_error = openai.APIError

    @staticmethod
    def _default_base_url(config: ProviderConfig) -> str:
        default = OLLAMA_BASE_URL if config.kind == "ollama" else OPENAI_BASE_URL
        return config.base_url or default

    def _make_client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=self.config.api_key or NO_KEY,
            base_url=self.base_url,
            timeout=self.config.timeout_seconds,
            max_retries=0,
            http_client=guarded_client(timeout=self.config.timeout_seconds, follow_redirects=True),
        )

    async def _attempt(
        self, client: openai.AsyncOpenAI, request: ModelRequest, on_delta: StreamedSink
    ) -> ModelResponse:
        state = _Stream()
        stream = await client.chat.completions.create(
            model=request.model,
            messages=to_openai_messages(request.messages),
            tools=to_openai_tools(request.tools) if request.tools else openai.omit,
            temperature=request.temperature if request.temperature is not None else openai.omit,
            max_tokens=request.max_tokens if request.max_tokens is not None else openai.omit,
            stream=True,
            stream_options={"include_usage": True},
        )
        async with stream:
            async for chunk in stream:
                if chunk.model:
                    state.model = chunk.model
                if chunk.usage is not None:
                    state.usage = Usage(
                        chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0
                    )
                for choice in (chunk.choices or [])[:1]:
                    delta = choice.delta
                    if delta.content:
                        state.text.append(delta.content)
                        on_delta(delta.content)
                    for call in delta.tool_calls or []:
                        state.tool_call(call.index, call.id, call.function)
                    if choice.finish_reason:
                        state.finish_reason = choice.finish_reason
        return ModelResponse(
            text="".join(state.text),
            tool_calls=state.tool_calls(),
            usage=state.usage,
            finish_reason=state.finish_reason,
            model=f"{self.name}/{state.model or request.model}",
        )

    def _status(self, exc: openai.APIStatusError) -> tuple[str, int | None]:
        return _status_text(exc), exc.status_code


@dataclass
class _Call:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class _Stream:
    """What the chunks of one streamed answer add up to."""

    text: list[str] = field(default_factory=list)
    calls: dict[int, _Call] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    model: str | None = None

    def tool_call(self, index: int | None, call_id: str | None, function: Any) -> None:
        if index is None:  # some compatible servers send whole calls without an index
            index = len(self.calls)
        call = self.calls.setdefault(index, _Call())
        if call_id:
            call.id = call_id
        if function is not None:
            if function.name and not call.name:
                call.name = function.name
            if function.arguments:
                call.arguments.append(function.arguments)

    def tool_calls(self) -> list[ToolCall]:
        return [
            ToolCall(call.id or f"call_{index}", call.name, "".join(call.arguments) or "{}")
            for index, call in sorted(self.calls.items())
        ]


def to_openai_messages(messages: list[Message]) -> list[ChatCompletionMessageParam]:
    """Our messages as chat-completions messages."""
    result: list[ChatCompletionMessageParam] = []
    for message in messages:
        if message.role == "system":
            result.append({"role": "system", "content": message.content})
        elif message.role == "user":
            result.append({"role": "user", "content": message.content})
        elif message.role == "assistant":
            if message.tool_calls:
                result.append(
                    {
                        "role": "assistant",
                        "content": message.content or None,
                        "tool_calls": [
                            {
                                "id": call.id,
                                "type": "function",
                                "function": {"name": call.name, "arguments": call.arguments},
                            }
                            for call in message.tool_calls
                        ],
                    }
                )
            else:
                result.append({"role": "assistant", "content": message.content})
        else:
            result.append(
                {
                    "role": "tool",
                    "tool_call_id": message.tool_call_id or "",
                    "content": message.content,
                }
            )
    return result


def to_openai_tools(tools: list[ToolSpec]) -> list[ChatCompletionFunctionToolParam]:
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
            },
        }
        for tool in tools
    ]


def _status_text(exc: openai.APIStatusError) -> str:
    """What the server said: `error.message` of the JSON body, else the body's text."""
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str) and message:
            return message
        return json.dumps(body)[:MAX_ERROR_TEXT]
    if isinstance(body, str) and body.strip():
        return body.strip()[:MAX_ERROR_TEXT]
    return exc.message
