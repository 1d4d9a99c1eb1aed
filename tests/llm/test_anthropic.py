"""AnthropicProvider against a fake Anthropic server on loopback (real HTTP, real SSE)."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from podium.llm.anthropic import AnthropicProvider
from podium.llm.base import (
    Message,
    ModelRequest,
    ProviderError,
    RetryPolicy,
    ToolCall,
    ToolSpec,
)
from podium.llm.providers import ProviderConfig, get_provider
from support.fake_anthropic import FakeAnthropic

FAST = RetryPolicy(attempts=3, base_seconds=0.01, max_seconds=0.02)
MODEL = "claude-test"
LOOKUP = ToolSpec(
    "lookup",
    "Look a word up.",
    {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
)


@pytest.fixture
def server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
async def provider(server: FakeAnthropic) -> AsyncIterator[AnthropicProvider]:
    config = ProviderConfig("anthropic", "anthropic", server.base_url, server.api_key, 5.0)
    provider = AnthropicProvider(config, retry=FAST)
    yield provider
    await provider.aclose()


def ask(text: str = "Say hello", **options: object) -> ModelRequest:
    return ModelRequest(MODEL, [Message("user", text)], **options)  # type: ignore[arg-type]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_text_streams_as_deltas(server: FakeAnthropic, provider: AnthropicProvider) -> None:
    server.reply_text("Hello streaming world", usage=(12, 3))
    deltas: list[str] = []

    response = await provider.complete(ask(), deltas.append)

    assert deltas == ["Hello ", "streaming ", "world"]
    assert response.text == "Hello streaming world"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 3)
    assert response.finish_reason == "stop"
    assert response.tool_calls == []
    assert response.model == f"anthropic/{MODEL}"
    assert server.count == 1


async def test_request_body_and_headers(server: FakeAnthropic, provider: AnthropicProvider) -> None:
    messages = [
        Message("system", "You are terse."),
        Message("user", "What are x and y?"),
        Message(
            "assistant",
            "Looking up.",
            [
                ToolCall("toolu_a", "lookup", '{"q": "x"}'),
                ToolCall("toolu_b", "lookup", "not json"),
            ],
        ),
        Message("tool", "x is a letter", tool_call_id="toolu_a", name="lookup"),
        Message("tool", "no idea", tool_call_id="toolu_b", name="lookup"),
        Message("assistant", "Both letters."),
        Message("system", "Answer in English."),
        Message("user", "Thanks"),
    ]
    request = ModelRequest(MODEL, messages, [LOOKUP], temperature=0.2, max_tokens=50)

    await provider.complete(request)

    received = server.requests[0]
    assert received.path == "/v1/messages"
    assert received.headers["x-api-key"] == "sk-ant-test"
    assert received.headers["anthropic-version"]
    assert "authorization" not in received.headers
    body = received.body
    assert body["model"] == MODEL
    assert body["stream"] is True
    assert body["max_tokens"] == 50
    assert body["temperature"] == 0.2
    assert body["system"] == "You are terse.\n\nAnswer in English."
    assert body["messages"] == [
        {"role": "user", "content": "What are x and y?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Looking up."},
                {"type": "tool_use", "id": "toolu_a", "name": "lookup", "input": {"q": "x"}},
                {"type": "tool_use", "id": "toolu_b", "name": "lookup", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "x is a letter"},
                {"type": "tool_result", "tool_use_id": "toolu_b", "content": "no idea"},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Both letters."}]},
        {"role": "user", "content": "Thanks"},
    ]
    assert body["tools"] == [
        {"name": "lookup", "description": "Look a word up.", "input_schema": LOOKUP.parameters}
    ]


async def test_defaults(server: FakeAnthropic, provider: AnthropicProvider) -> None:
    await provider.complete(ask())

    body = server.requests[0].body
    assert body["max_tokens"] == 4096
    assert "tools" not in body
    assert "temperature" not in body
    assert "system" not in body


async def test_one_tool_call(server: FakeAnthropic, provider: AnthropicProvider) -> None:
    server.reply_tool_calls([("lookup", {"q": "x"})])
    deltas: list[str] = []

    response = await provider.complete(ask(tools=[LOOKUP]), deltas.append)

    assert response.tool_calls == [ToolCall("toolu_1", "lookup", '{"q": "x"}')]
    assert response.text == ""
    assert deltas == []
    assert response.finish_reason == "tool_calls"


async def test_several_tool_calls_with_text(
    server: FakeAnthropic, provider: AnthropicProvider
) -> None:
    server.reply_tool_calls(
        [("lookup", {"q": "x", "deep": True}), ("lookup", {"q": "y"}), ("now", {})],
        text="Looking both up",
    )
    deltas: list[str] = []

    response = await provider.complete(ask(tools=[LOOKUP]), deltas.append)

    assert response.text == "Looking both up"
    assert deltas == ["Looking ", "both ", "up"]
    assert [(c.id, c.name) for c in response.tool_calls] == [
        ("toolu_1", "lookup"),
        ("toolu_2", "lookup"),
        ("toolu_3", "now"),
    ]
    assert [json.loads(c.arguments) for c in response.tool_calls] == [
        {"q": "x", "deep": True},
        {"q": "y"},
        {},
    ]


async def test_429_is_retried(server: FakeAnthropic, provider: AnthropicProvider) -> None:
    server.reply_error(429, "slow down")
    server.reply_text("Second time lucky")

    response = await provider.complete(ask())

    assert response.text == "Second time lucky"
    assert server.count == 2


async def test_529_overloaded_is_retried(
    server: FakeAnthropic, provider: AnthropicProvider
) -> None:
    server.reply_error(529, "Overloaded")
    server.reply_text("Fine now")

    response = await provider.complete(ask())

    assert response.text == "Fine now"
    assert server.count == 2


async def test_overloaded_in_the_stream_is_retried(
    server: FakeAnthropic, provider: AnthropicProvider
) -> None:
    server.reply_error(529, "Overloaded", in_stream=True)
    server.reply_text("Fine now")

    response = await provider.complete(ask())

    assert response.text == "Fine now"
    assert server.count == 2


async def test_invalid_request_in_the_stream_fails(
    server: FakeAnthropic, provider: AnthropicProvider
) -> None:
    server.reply_error(400, "prompt is too long", in_stream=True)

    with pytest.raises(ProviderError) as caught:
        await provider.complete(ask())

    assert str(caught.value) == (
        "provider 'anthropic', model 'claude-test': invalid_request_error during the stream"
    )  # the server's words are logged, never passed on (the base URL may be a tenant's)
    assert not caught.value.retryable
    assert server.count == 1


async def test_500_three_times_fails(server: FakeAnthropic, provider: AnthropicProvider) -> None:
    for _ in range(3):
        server.reply_error(500, "Internal server error")

    with pytest.raises(ProviderError) as caught:
        await provider.complete(ask())

    assert str(caught.value) == (
        "provider 'anthropic', model 'claude-test' (HTTP 500): Internal Server Error"
    )
    assert caught.value.status == 500
    assert caught.value.retryable
    assert server.count == 3


async def test_400_is_not_retried(server: FakeAnthropic, provider: AnthropicProvider) -> None:
    server.reply_error(400, "messages: field required")

    with pytest.raises(ProviderError) as caught:
        await provider.complete(ask())

    assert str(caught.value) == (
        "provider 'anthropic', model 'claude-test' (HTTP 400): Bad Request"
    )  # the standard reason phrase: the server's words ("messages: …") are only logged
    assert not caught.value.retryable
    assert server.count == 1


async def test_wrong_key_is_401_not_retried(server: FakeAnthropic) -> None:
    config = ProviderConfig("anthropic", "anthropic", server.base_url, "sk-ant-wrong", 5.0)
    provider = AnthropicProvider(config, retry=FAST)
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.complete(ask())
    finally:
        await provider.aclose()

    assert str(caught.value) == (
        "provider 'anthropic', model 'claude-test' (HTTP 401): Unauthorized"
    )
    assert server.count == 1


async def test_timeout(server: FakeAnthropic) -> None:
    config = ProviderConfig("anthropic", "anthropic", server.base_url, server.api_key, 0.3)
    provider = AnthropicProvider(config, retry=RetryPolicy(attempts=1))
    server.reply_hang()
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.complete(ask())
    finally:
        await provider.aclose()

    assert "timed out after 0.3 seconds" in str(caught.value)
    assert str(caught.value).startswith("provider 'anthropic', model 'claude-test': ")
    assert caught.value.retryable


async def test_timeout_is_retried(server: FakeAnthropic) -> None:
    config = ProviderConfig("anthropic", "anthropic", server.base_url, server.api_key, 0.5)
    provider = AnthropicProvider(config, retry=FAST)
    server.reply_hang()
    server.reply_text("Back again")
    try:
        response = await provider.complete(ask())
    finally:
        await provider.aclose()

    assert response.text == "Back again"
    assert server.count == 2


async def test_error_after_a_delta_is_not_retried(
    server: FakeAnthropic, provider: AnthropicProvider
) -> None:
    server.reply_text("Hello there world", break_after=1)
    deltas: list[str] = []

    with pytest.raises(ProviderError) as caught:
        await provider.complete(ask(), deltas.append)

    assert deltas == ["Hello "]
    assert not caught.value.retryable
    assert "after part of the answer was streamed" in str(caught.value)
    assert server.count == 1


async def test_no_script_left_answers_ok(
    server: FakeAnthropic, provider: AnthropicProvider
) -> None:
    response = await provider.complete(ask())

    assert response.text == "ok"


async def test_health_reachable(server: FakeAnthropic, provider: AnthropicProvider) -> None:
    health = await provider.health()

    assert health.reachable
    assert "1 models" in health.detail
    assert server.health_count == 1
    assert server.count == 0


async def test_health_closed_port() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    provider = AnthropicProvider(ProviderConfig("anthropic", "anthropic", url, "sk-ant", 2.0))
    try:
        health = await provider.health()
    finally:
        await provider.aclose()

    assert not health.reachable
    assert health.detail.startswith(f"could not connect to {url}")


async def test_health_wrong_key(server: FakeAnthropic) -> None:
    config = ProviderConfig("anthropic", "anthropic", server.base_url, "sk-ant-no", 2.0)
    provider = AnthropicProvider(config)
    try:
        health = await provider.health()
    finally:
        await provider.aclose()

    assert not health.reachable
    assert health.detail == "HTTP 401: Unauthorized"


async def test_base_url_ending_in_v1(server: FakeAnthropic) -> None:
    config = ProviderConfig("anthropic", "anthropic", f"{server.base_url}/v1/", server.api_key)
    provider = AnthropicProvider(config, retry=FAST)
    try:
        response = await provider.complete(ask())
    finally:
        await provider.aclose()

    assert response.text == "ok"
    assert server.requests[0].path == "/v1/messages"


def test_get_provider_builds_anthropic() -> None:
    provider = get_provider(ProviderConfig("test-anthropic", "anthropic", None, "k"))

    assert isinstance(provider, AnthropicProvider)
    assert provider.name == "test-anthropic"
    assert provider.base_url == "https://api.anthropic.com"
