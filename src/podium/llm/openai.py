"""`openai` (and `ollama`): the chat-completions API, through the official `openai` SDK.

Any server that speaks OpenAI's chat completions works (OpenAI, Ollama, vLLM, Mistral,
OpenRouter, …): the configuration gives the base URL and key. Answers are always streamed,
so text reaches `on_delta` as it is generated; tool calls are assembled from their streamed
pieces. The SDK's own retries are off: `with_retries` retries 429, 5xx, timeouts and
connection errors with backoff, unless text was already streamed.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai
from openai.types.chat import (
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageParam,
)

from podium.llm.base import (
    DeltaSink,
    Health,
    Message,
    ModelRequest,
    ModelResponse,
    ProviderError,
    RetryPolicy,
    ToolCall,
    ToolSpec,
    Usage,
    is_retryable_status,
    with_retries,
)
from podium.llm.providers import OLLAMA_BASE_URL, OPENAI_BASE_URL, ProviderConfig

HEALTH_TIMEOUT_SECONDS = 10.0
NO_KEY = "no-key"  # the SDK insists on a key; servers that need none (Ollama) ignore it
_MAX_ERROR_TEXT = 500


class OpenAIProvider:
    """A provider speaking OpenAI's chat-completions protocol. `retry` overrides the
    configuration's retry policy (tests use short delays)."""

    def __init__(self, config: ProviderConfig, *, retry: RetryPolicy | None = None) -> None:
        self.config = config
        self.name = config.name
        self.retry = retry or config.retry
        default = OLLAMA_BASE_URL if config.kind == "ollama" else OPENAI_BASE_URL
        self.base_url = config.base_url or default
        self._client: openai.AsyncOpenAI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _sdk(self) -> openai.AsyncOpenAI:
        """The SDK client, made on first use in the running event loop (its connection pool
        belongs to one loop)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = openai.AsyncOpenAI(
                api_key=self.config.api_key or NO_KEY,
                base_url=self.base_url,
                timeout=self.config.timeout_seconds,
                max_retries=0,
            )
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the SDK client and its connections."""
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            await client.close()

    async def complete(
        self, request: ModelRequest, on_delta: DeltaSink | None = None
    ) -> ModelResponse:
        return await with_retries(self.retry, lambda: self._attempt(request, on_delta))

    async def _attempt(self, request: ModelRequest, on_delta: DeltaSink | None) -> ModelResponse:
        client = self._sdk()
        state = _Stream()
        try:
            stream = await client.chat.completions.create(
                model=request.model,
                messages=to_openai_messages(request.messages),
                tools=to_openai_tools(request.tools) if request.tools else openai.omit,
                temperature=(
                    request.temperature if request.temperature is not None else openai.omit
                ),
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
                            state.streamed = True
                            if on_delta is not None:
                                on_delta(delta.content)
                        for call in delta.tool_calls or []:
                            state.tool_call(call.index, call.id, call.function)
                        if choice.finish_reason:
                            state.finish_reason = choice.finish_reason
        except (openai.OpenAIError, httpx2.HTTPError, json.JSONDecodeError) as exc:
            # (the SDK wraps most of httpx2's errors, not all, nor a malformed event)
            raise self._error(exc, request.model, streamed=state.streamed) from exc
        return ModelResponse(
            text="".join(state.text),
            tool_calls=state.tool_calls(),
            usage=state.usage,
            finish_reason=state.finish_reason,
            model=f"{self.name}/{state.model or request.model}",
        )

    def _error(self, exc: Exception, model: str, *, streamed: bool) -> ProviderError:
        message, status, retryable = self._describe(exc)
        if streamed:
            retryable = False
            message += " (after part of the answer was streamed)"
        return ProviderError(self.name, model, message, status=status, retryable=retryable)

    def _describe(self, exc: Exception) -> tuple[str, int | None, bool]:
        """What went wrong, in the server's words: (message, HTTP status, retryable)."""
        if isinstance(exc, openai.APIStatusError):
            message = _status_text(exc)
            if exc.status_code == 401 and not self.config.api_key:
                message += f" (no API key is configured for provider {self.name!r})"
            return message, exc.status_code, is_retryable_status(exc.status_code)
        if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
            seconds = self.config.timeout_seconds
            return f"timed out after {seconds:g} seconds waiting for {self.base_url}", None, True
        if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
            return f"could not connect to {self.base_url}: {_cause(exc)}", None, True
        if isinstance(exc, openai.APIError):
            return exc.message, None, False  # e.g. an error event in the middle of a stream
        if isinstance(exc, json.JSONDecodeError):
            return f"the answer could not be read: {exc}", None, False
        return str(exc) or type(exc).__name__, None, False

    async def health(self) -> Health:
        """Whether the server lists its models with this configuration's key (an answer
        such as 401 counts as not reachable, with the server's words). Never raises."""
        try:
            page = await self._sdk().models.list(
                timeout=min(self.config.timeout_seconds, HEALTH_TIMEOUT_SECONDS)
            )
        except Exception as exc:
            message, status, _ = self._describe(exc)
            return Health(False, f"HTTP {status}: {message}" if status is not None else message)
        return Health(True, f"{len(page.data)} models listed at {self.base_url}")


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
    streamed: bool = False

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
        return json.dumps(body)[:_MAX_ERROR_TEXT]
    if isinstance(body, str) and body.strip():
        return body.strip()[:_MAX_ERROR_TEXT]
    return exc.message


def _cause(exc: BaseException) -> str:
    """The innermost reason of a connection error ("[Errno 111] Connection refused")."""
    reason = exc
    while reason.__cause__ is not None:
        reason = reason.__cause__
    return str(reason) or type(reason).__name__
