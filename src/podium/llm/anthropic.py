"""`anthropic`: the Messages API, through the official `anthropic` SDK.

System messages become `system=`; tool results become user messages of `tool_result`
blocks (consecutive results in one message); assistant tool calls become `tool_use` blocks.
Answers are always streamed (`message_start`, `content_block_*`, `message_delta`,
`message_stop`), text reaching `on_delta` as it is generated. The SDK's own retries are off:
`with_retries` retries 429, 5xx (529 overloaded too), timeouts and connection errors with
backoff, unless text was already streamed.

The key is sent as `x-api-key`, the header Anthropic documents. (The installed SDK, 2.x,
sends `api_key` as `Authorization: Bearer …`; that header is dropped.)
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, cast

import anthropic
import httpx2
from anthropic.types import (
    ContentBlockParam,
    MessageParam,
    ToolParam,
    ToolResultBlockParam,
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
from podium.llm.providers import ProviderConfig

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
DEFAULT_MAX_TOKENS = 4096
HEALTH_TIMEOUT_SECONDS = 10.0
NO_KEY = "no-key"
_MAX_ERROR_TEXT = 500
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


class AnthropicProvider:
    """A provider speaking Anthropic's Messages API. `retry` overrides the configuration's
    retry policy (tests use short delays)."""

    def __init__(self, config: ProviderConfig, *, retry: RetryPolicy | None = None) -> None:
        self.config = config
        self.name = config.name
        self.retry = retry or config.retry
        # The SDK adds `/v1/…` itself; a base URL configured as `…/v1` would double it.
        base_url = (config.base_url or ANTHROPIC_BASE_URL).rstrip("/")
        self.base_url = base_url.removesuffix("/v1") or base_url
        self._client: anthropic.AsyncAnthropic | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _sdk(self) -> anthropic.AsyncAnthropic:
        """The SDK client, made on first use in the running event loop (its connection pool
        belongs to one loop)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            key = self.config.api_key or NO_KEY
            # `api_key=` keeps the SDK from looking for credentials in the environment and
            # on disk; the header it would send is replaced by `x-api-key`.
            headers = cast(dict[str, str], {"x-api-key": key, "Authorization": anthropic.omit})
            self._client = anthropic.AsyncAnthropic(
                api_key=key,
                base_url=self.base_url,
                timeout=self.config.timeout_seconds,
                max_retries=0,
                default_headers=headers,
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
        system, messages = to_anthropic_messages(request.messages)
        state = _Stream()
        try:
            stream = await client.messages.create(
                model=request.model,
                max_tokens=request.max_tokens or DEFAULT_MAX_TOKENS,
                messages=messages,
                system=system if system else anthropic.omit,
                tools=to_anthropic_tools(request.tools) if request.tools else anthropic.omit,
                # This SDK version has no `temperature` argument; the API takes the field.
                extra_body=(
                    {"temperature": request.temperature}
                    if request.temperature is not None
                    else None
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
        except (anthropic.AnthropicError, httpx2.HTTPError, json.JSONDecodeError) as exc:
            # (this SDK does not wrap httpx2's errors read mid-stream, nor a malformed event)
            raise self._error(exc, request.model, streamed=state.streamed) from exc
        reason = state.stop_reason
        return ModelResponse(
            text="".join(state.text),
            tool_calls=[call.done() for _, call in sorted(state.calls.items())],
            usage=Usage(state.input_tokens, state.output_tokens),
            finish_reason=_FINISH_REASONS.get(reason, reason) if reason else None,
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
        if isinstance(exc, anthropic.APIStatusError):
            message = _status_text(exc)
            status: int | None = exc.status_code
            if status == 200:  # an `error` event in the stream
                status = _STREAM_ERROR_STATUS.get(exc.type or "")
                message = f"{exc.type or 'error'} during the stream: {message}"
            if status == 401 and not self.config.api_key:
                message += f" (no API key is configured for provider {self.name!r})"
            return message, status, is_retryable_status(status)
        if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
            seconds = self.config.timeout_seconds
            return f"timed out after {seconds:g} seconds waiting for {self.base_url}", None, True
        if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
            return f"could not connect to {self.base_url}: {_cause(exc)}", None, True
        if isinstance(exc, anthropic.APIError):
            return exc.message, None, False
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
    streamed: bool = False

    def emit(self, text: str, on_delta: DeltaSink | None) -> None:
        if not text:
            return
        self.text.append(text)
        self.streamed = True
        if on_delta is not None:
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
    try:
        value = json.loads(call.arguments) if call.arguments else {}
    except ValueError:
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
        return body.strip()[:_MAX_ERROR_TEXT]
    if body is not None:
        return json.dumps(body, default=str)[:_MAX_ERROR_TEXT]
    return exc.message


def _cause(exc: BaseException) -> str:
    """The innermost reason of a connection error ("[Errno 111] Connection refused")."""
    reason = exc
    while reason.__cause__ is not None:
        reason = reason.__cause__
    return str(reason) or type(reason).__name__
