"""OpenAIProvider against a fake OpenAI server on loopback (real HTTP, real SSE)."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from podium.llm.base import (
    Message,
    ModelRequest,
    ProviderError,
    RetryPolicy,
    ToolCall,
    ToolSpec,
)
from podium.llm.openai import OpenAIProvider
from podium.llm.providers import ProviderConfig, get_provider
from support.fake_openai import FakeOpenAI

FAST = RetryPolicy(attempts=3, base_seconds=0.01, max_seconds=0.02)
MODEL = "gpt-4o-mini"
LOOKUP = ToolSpec(
    "lookup",
    "Look a word up.",
    {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
)


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def provider(server: FakeOpenAI) -> AsyncIterator[OpenAIProvider]:
    config = ProviderConfig("openai", "openai", server.base_url, server.api_key, 5.0)
    provider = OpenAIProvider(config, retry=FAST)
    yield provider
    await provider.aclose()


def ask(text: str = "Say hello", **options: object) -> ModelRequest:
    return ModelRequest(MODEL, [Message("user", text)], **options)  # type: ignore[arg-type]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_text_streams_as_deltas(server: FakeOpenAI, provider: OpenAIProvider) -> None:
    server.reply_text("Hello streaming world", usage=(12, 3))
    deltas: list[str] = []

    response = await provider.complete(ask(), deltas.append)

    assert deltas == ["Hello ", "streaming ", "world"]
    assert response.text == "Hello streaming world"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 3)
    assert response.finish_reason == "stop"
    assert response.tool_calls == []
    assert response.model == f"openai/{MODEL}"
    assert server.count == 1


async def test_request_body_and_auth(server: FakeOpenAI, provider: OpenAIProvider) -> None:
    messages = [
        Message("system", "You are terse."),
        Message("user", "What is x?"),
        Message("assistant", "", [ToolCall("call_9", "lookup", '{"q": "x"}')]),
        Message("tool", "x is a letter", tool_call_id="call_9", name="lookup"),
        Message("assistant", "A letter."),
        Message("user", "Thanks"),
    ]
    request = ModelRequest(MODEL, messages, [LOOKUP], temperature=0.2, max_tokens=50)

    await provider.complete(request)

    received = server.requests[0]
    assert received.path == "/v1/chat/completions"
    assert received.headers["authorization"] == "Bearer sk-test"
    body = received.body
    assert body["model"] == MODEL
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.2
    assert body["max_tokens"] == 50
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is x?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": "x"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_9", "content": "x is a letter"},
        {"role": "assistant", "content": "A letter."},
        {"role": "user", "content": "Thanks"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look a word up.",
                "parameters": LOOKUP.parameters,
            },
        }
    ]


async def test_unset_options_are_not_sent(server: FakeOpenAI, provider: OpenAIProvider) -> None:
    await provider.complete(ask())

    body = server.requests[0].body
    assert "tools" not in body
    assert "temperature" not in body
    assert "max_tokens" not in body


async def test_one_tool_call(server: FakeOpenAI, provider: OpenAIProvider) -> None:
    server.reply_tool_calls([("lookup", {"q": "x"})])
    deltas: list[str] = []

    response = await provider.complete(ask(tools=[LOOKUP]), deltas.append)

    assert response.tool_calls == [ToolCall("call_1", "lookup", '{"q": "x"}')]
    assert response.text == ""
    assert deltas == []
    assert response.finish_reason == "tool_calls"


async def test_several_tool_calls_with_text(server: FakeOpenAI, provider: OpenAIProvider) -> None:
    server.reply_tool_calls(
        [("lookup", {"q": "x", "deep": True}), ("lookup", {"q": "y"}), ("now", {})],
        text="Looking both up",
    )

    response = await provider.complete(ask(tools=[LOOKUP]))

    assert response.text == "Looking both up"
    assert [(c.id, c.name) for c in response.tool_calls] == [
        ("call_1", "lookup"),
        ("call_2", "lookup"),
        ("call_3", "now"),
    ]
    assert [json.loads(c.arguments) for c in response.tool_calls] == [
        {"q": "x", "deep": True},
        {"q": "y"},
        {},
    ]
    assert response.usage.output_tokens > 0


async def test_429_is_retried(server: FakeOpenAI, provider: OpenAIProvider) -> None:
    server.reply_error(429, "slow down")
    server.reply_text("Second time lucky")

    response = await provider.complete(ask())

    assert response.text == "Second time lucky"
    assert server.count == 2


async def test_500_three_times_fails(server: FakeOpenAI, provider: OpenAIProvider) -> None:
    for _ in range(3):
        server.reply_error(500, "The server had an error while processing your request.")

    with pytest.raises(ProviderError) as caught:
        await provider.complete(ask())

    assert str(caught.value) == (
        "provider 'openai', model 'gpt-4o-mini' (HTTP 500): Internal Server Error"
    )
    assert caught.value.status == 500
    assert caught.value.retryable
    assert server.count == 3


async def test_400_is_not_retried(server: FakeOpenAI, provider: OpenAIProvider) -> None:
    server.reply_error(400, "Invalid value for 'messages'.")

    with pytest.raises(ProviderError) as caught:
        await provider.complete(ask())

    # The standard reason phrase: the server's words are logged, never passed on (a tenant
    # chooses the base URL, so an answer's body must not come back through Podium).
    assert str(caught.value) == "provider 'openai', model 'gpt-4o-mini' (HTTP 400): Bad Request"
    assert not caught.value.retryable
    assert server.count == 1


async def test_wrong_key_is_401_not_retried(server: FakeOpenAI) -> None:
    config = ProviderConfig("openai", "openai", server.base_url, "sk-wrong", 5.0)
    provider = OpenAIProvider(config, retry=FAST)
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.complete(ask())
    finally:
        await provider.aclose()

    assert caught.value.status == 401
    assert str(caught.value) == "provider 'openai', model 'gpt-4o-mini' (HTTP 401): Unauthorized"
    assert server.count == 1


async def test_timeout(server: FakeOpenAI) -> None:
    config = ProviderConfig("openai", "openai", server.base_url, server.api_key, 0.3)
    provider = OpenAIProvider(config, retry=RetryPolicy(attempts=1))
    server.reply_hang()
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.complete(ask())
    finally:
        await provider.aclose()

    assert "timed out after 0.3 seconds" in str(caught.value)
    assert str(caught.value).startswith("provider 'openai', model 'gpt-4o-mini': ")
    assert caught.value.retryable
    assert caught.value.status is None


async def test_timeout_is_retried(server: FakeOpenAI) -> None:
    config = ProviderConfig("openai", "openai", server.base_url, server.api_key, 0.5)
    provider = OpenAIProvider(config, retry=FAST)
    server.reply_hang()
    server.reply_text("Back again")
    try:
        response = await provider.complete(ask())
    finally:
        await provider.aclose()

    assert response.text == "Back again"
    assert server.count == 2


async def test_error_after_a_delta_is_not_retried(
    server: FakeOpenAI, provider: OpenAIProvider
) -> None:
    server.reply_text("Hello there world", break_after=1)
    deltas: list[str] = []

    with pytest.raises(ProviderError) as caught:
        await provider.complete(ask(), deltas.append)

    assert deltas == ["Hello "]
    assert not caught.value.retryable
    assert "after part of the answer was streamed" in str(caught.value)
    assert server.count == 1


async def test_no_script_left_answers_ok(server: FakeOpenAI, provider: OpenAIProvider) -> None:
    response = await provider.complete(ask())

    assert response.text == "ok"


async def test_health_reachable(server: FakeOpenAI, provider: OpenAIProvider) -> None:
    health = await provider.health()

    assert health.reachable
    assert "1 models" in health.detail
    assert server.health_count == 1
    assert server.count == 0


async def test_health_closed_port() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    provider = OpenAIProvider(ProviderConfig("openai", "openai", url, "sk-test", 2.0))
    try:
        health = await provider.health()
    finally:
        await provider.aclose()

    assert not health.reachable
    assert health.detail.startswith(f"could not connect to {url}")


async def test_health_wrong_key(server: FakeOpenAI) -> None:
    provider = OpenAIProvider(ProviderConfig("openai", "openai", server.base_url, "sk-no", 2.0))
    try:
        health = await provider.health()
    finally:
        await provider.aclose()

    assert not health.reachable
    assert health.detail == "HTTP 401: Unauthorized"


async def test_ollama_without_key() -> None:
    with FakeOpenAI(api_key=None) as server:
        server.reply_text("Hi from llama")
        provider = OpenAIProvider(ProviderConfig("ollama", "ollama", server.base_url), retry=FAST)
        try:
            deltas: list[str] = []
            response = await provider.complete(
                ModelRequest("llama3.2", [Message("user", "hi")]), deltas.append
            )
            health = await provider.health()
        finally:
            await provider.aclose()

    assert response.text == "Hi from llama"
    assert deltas == ["Hi ", "from ", "llama"]
    assert response.model == "ollama/llama3.2"
    assert server.requests[0].body["model"] == "llama3.2"
    assert health.reachable


def test_get_provider_builds_openai_and_ollama() -> None:
    openai_provider = get_provider(ProviderConfig("test-openai", "openai", "http://x/v1", "k"))
    ollama_provider = get_provider(ProviderConfig("test-ollama", "ollama"))

    assert isinstance(openai_provider, OpenAIProvider)
    assert openai_provider.name == "test-openai"
    assert isinstance(ollama_provider, OpenAIProvider)
    assert ollama_provider.base_url == "http://localhost:11434/v1"
