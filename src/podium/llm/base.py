"""The one interface every model provider speaks: messages, tool definitions, tool calls,
streamed deltas and token usage.

Everything here is plain JSON once dumped (`to_json` / `from_json`), because an LLM call is a
recorded call (`ctx.step`): its response is written to the store and read back after a crash.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from podium import tracing
from podium.errors import PodiumError

Role = Literal["system", "user", "assistant", "tool"]
T = TypeVar("T")
DeltaSink = Callable[[str], None]


class ProviderError(PodiumError):
    """A provider failed: says which provider, which model and what the provider answered."""

    code = "provider_error"

    def __init__(
        self,
        provider: str,
        model: str,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
    ) -> None:
        where = f"provider {provider!r}, model {model!r}"
        status_text = f" (HTTP {status})" if status is not None else ""
        super().__init__(
            f"{where}{status_text}: {message}",
            details={"provider": provider, "model": model, "status": status},
        )
        self.provider = provider
        self.model = model
        self.status = status
        self.retryable = retryable


class ModelNotConfigured(PodiumError):
    """A model reference names a provider that is not known or not configured."""

    code = "model_not_configured"


@dataclass(slots=True)
class ToolCall:
    """A model's request to run a tool. `arguments` is the raw JSON text the model wrote:
    it may be invalid, and then the tool's result tells the model so."""

    id: str
    name: str
    arguments: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ToolCall:
        return cls(str(data["id"]), str(data["name"]), str(data.get("arguments") or ""))


@dataclass(slots=True)
class Message:
    """One chat message. `tool_calls` on assistant messages; `tool_call_id` (and `name`,
    the tool's) on tool results."""

    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            data["tool_calls"] = [call.to_json() for call in self.tool_calls]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            data["name"] = self.name
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        return cls(
            role=data["role"],
            content=str(data.get("content") or ""),
            tool_calls=[ToolCall.from_json(c) for c in data.get("tool_calls") or []],
            tool_call_id=data.get("tool_call_id"),
            name=data.get("name"),
        )


@dataclass(slots=True, frozen=True)
class ToolSpec:
    """A tool as a model sees it: name, description and a JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(slots=True)
class ModelRequest:
    """One call to a model. `model` is the provider's own model name (no `provider/` prefix).
    `options` carries provider-specific extras (the offline script's turns, for one)."""

    model: str
    messages: list[Message]
    tools: list[ToolSpec] = field(default_factory=list)
    temperature: float | None = None
    max_tokens: int | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ModelResponse:
    """What a model answered: text and/or tool calls, with the tokens it used."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    model: str | None = None

    def message(self) -> Message:
        return Message("assistant", self.text, list(self.tool_calls))

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "tool_calls": [call.to_json() for call in self.tool_calls],
            "usage": {
                "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens,
            },
            "finish_reason": self.finish_reason,
            "model": self.model,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelResponse:
        usage = data.get("usage") or {}
        return cls(
            text=str(data.get("text") or ""),
            tool_calls=[ToolCall.from_json(c) for c in data.get("tool_calls") or []],
            usage=Usage(int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))),
            finish_reason=data.get("finish_reason"),
            model=data.get("model"),
        )


@dataclass(slots=True, frozen=True)
class Health:
    """Whether a provider answered: `reachable`, and what went wrong when it did not."""

    reachable: bool
    detail: str = ""


class Provider(Protocol):
    """A model provider. `complete` streams text deltas to `on_delta` (when given) as they
    arrive and returns the whole response; it raises ProviderError on failure."""

    name: str

    async def complete(
        self, request: ModelRequest, on_delta: DeltaSink | None = None
    ) -> ModelResponse: ...

    async def health(self) -> Health: ...


async def traced_complete(
    provider: Provider, request: ModelRequest, on_delta: DeltaSink | None = None, *, run_id: str
) -> ModelResponse:
    """`provider.complete` inside a `chat` span of the run's trace, with the GenAI attributes
    (`podium.tracing`); just the call when tracing is off."""
    with tracing.model_call_span(
        run_id,
        provider.name,
        request.model,
        temperature=request.temperature,
        max_tokens=request.max_tokens,
    ) as span:
        response = await provider.complete(request, on_delta)
        tracing.record_model_response(
            span,
            # The model as the provider names it, without Podium's `provider/` in front.
            model=(response.model or "").removeprefix(f"{provider.name}/") or None,
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            finish_reason=response.finish_reason,
        )
    return response


@dataclass(slots=True, frozen=True)
class RetryPolicy:
    """Retries with exponential backoff and jitter for 429 and 5xx answers (and timeouts)."""

    attempts: int = 3
    base_seconds: float = 0.5
    max_seconds: float = 8.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        ceiling = min(self.max_seconds, self.base_seconds * 2.0 ** (attempt - 1))
        return float(ceiling / 2 + random.random() * ceiling / 2)


def is_retryable_status(status: int | None) -> bool:
    return status is not None and (status == 429 or status >= 500)


async def with_retries(policy: RetryPolicy, call: Callable[[], Awaitable[T]]) -> T:
    """Run `call`, again after a backoff while it raises a retryable ProviderError.

    A call that already streamed deltas is not retried (its tokens reached clients); the
    provider marks such an error not retryable.
    """
    attempt = 1
    while True:
        try:
            return await call()
        except ProviderError as exc:
            if not exc.retryable or attempt >= policy.attempts:
                raise
        await asyncio.sleep(policy.delay(attempt))
        attempt += 1
