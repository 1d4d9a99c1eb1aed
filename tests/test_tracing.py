"""Traces (`podium.tracing`): an agent on the offline model that calls a tool makes the span
tree run → step → invoke_agent → chat / execute_tool with the GenAI attributes; a run that
waits for a person ends its spans and its resumed stretch carries the same run id; OTLP/HTTP
reaches a loopback receiver that decodes the protobuf; and with nothing configured there is
no provider, no span, and nothing on the wire, whatever the standard OTEL_* variables say."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.conftest import fast_settings
from tests.support.otlp_receiver import otlp_receiver

import podium
from podium import Podium, tracing
from podium.config import Settings
from podium.engine.flow import Flow
from podium.errors import InvalidInput
from podium.llm.base import Message, ModelRequest, traced_complete
from podium.llm.offline import OfflineProvider
from podium.storage.agents import save_agent
from podium.storage.records import RunRecord
from podium.tools.base import DEFAULT, tool

CHAT_FLOW = Flow.model_validate(
    json.loads((Path(podium.__file__).parent / "flows" / "chat.json").read_text())
)
# Whether a span was current inside the tool, per call (off: never).
SPAN_SEEN_BY_TOOL: list[bool] = []


@tool(registry=DEFAULT)
async def t_trace_add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    SPAN_SEEN_BY_TOOL.append(trace.get_current_span().get_span_context().is_valid)
    return a + b


@tool(registry=DEFAULT, requires_approval=True)
async def t_trace_charge(amount: int) -> dict[str, int]:
    """Charge the customer's card.

    Args:
        amount: The amount, in cents.
    """
    return {"charged": amount}


ADDER = {
    "name": "adder",
    "model": "offline/script",
    "tools": ["t_trace_add"],
    "script": [
        {"tool_calls": [{"name": "t_trace_add", "arguments": {"a": 2, "b": 3}}]},
        {"text": "2 + 3 = 5"},
    ],
}
CHARGER = {
    "name": "charger",
    "model": "offline/script",
    "tools": ["t_trace_charge"],
    "script": [
        {"tool_calls": [{"name": "t_trace_charge", "arguments": {"amount": 500}}]},
        {"text": "charged"},
    ],
}


@pytest.fixture(autouse=True)
def tracing_off_after() -> Iterator[None]:
    SPAN_SEEN_BY_TOOL.clear()
    assert not tracing.enabled()
    yield
    tracing.shutdown()


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    found = InMemorySpanExporter()
    tracing.install(found, batch=False)
    return found


async def define(runtime: Podium, app_id: str, definition: dict[str, Any]) -> None:
    name = definition["name"]
    await runtime.store.run_script(lambda: save_agent(app_id, name, definition, None, time.time()))


async def chat(runtime: Podium, agent: str, message: str) -> RunRecord:
    app_id = await runtime.default_app()
    await define(runtime, app_id, ADDER if agent == "adder" else CHARGER)
    handle = await runtime.start(CHAT_FLOW, {"agent": agent, "message": message})
    return await runtime.wait(handle.run_id, timeout=30)


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Podium]:
    async with Podium.open(database_url, settings=fast_settings(), workers=1) as opened:
        yield opened


def by_name(spans: list[Any], prefix: str) -> list[Any]:
    return [span for span in spans if span.name.startswith(prefix)]


def parent(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan | None:
    if span.parent is None:
        return None
    [found] = [s for s in spans if s.context.span_id == span.parent.span_id]
    return found


async def test_an_agent_calling_a_tool_makes_the_span_tree_with_genai_attributes(
    exporter: InMemorySpanExporter, runtime: Podium
) -> None:
    run = await chat(runtime, "adder", "what is 2 + 3?")
    assert run.status == "succeeded", run.error
    spans = list(exporter.get_finished_spans())

    [run_span] = by_name(spans, "run ")
    assert run_span.name == "run chat" and parent(run_span, spans) is None
    assert run_span.attributes is not None
    assert run_span.attributes["podium.run_id"] == run.id
    assert run_span.attributes["podium.session_id"] == run.session_id
    assert run_span.attributes["podium.app_id"] == run.app_id
    assert run_span.attributes["podium.run.status"] == "succeeded"
    assert run_span.attributes["podium.run.resumed"] is False

    steps = by_name(spans, "step ")
    assert sorted(s.name for s in steps) == ["step agent", "step out"]
    assert all(parent(s, spans) is run_span for s in steps)
    [agent_step] = [s for s in steps if s.name == "step agent"]
    assert agent_step.attributes is not None
    assert agent_step.attributes["podium.step.status"] == "succeeded"
    assert agent_step.attributes["podium.attempt"] == 1

    [agent_span] = by_name(spans, "invoke_agent ")
    assert parent(agent_span, spans) is agent_step
    assert agent_span.attributes is not None
    assert agent_span.attributes["gen_ai.agent.name"] == "adder"

    calls = by_name(spans, "chat ")
    assert [c.name for c in calls] == ["chat script", "chat script"]  # the tool turn, the answer
    for call in calls:
        assert parent(call, spans) is agent_span
        assert call.kind == trace.SpanKind.CLIENT
        attributes = dict(call.attributes or {})
        assert attributes["gen_ai.operation.name"] == "chat"
        assert attributes["gen_ai.provider.name"] == attributes["gen_ai.system"] == "offline"
        assert attributes["gen_ai.request.model"] == "script"
        assert attributes["gen_ai.usage.input_tokens"] > 0
        assert isinstance(attributes["gen_ai.usage.output_tokens"], int)
        assert attributes["podium.run_id"] == run.id
        assert call.end_time is not None and call.start_time is not None
        assert call.end_time >= call.start_time  # the duration is the call's latency
    assert calls[1].attributes is not None
    assert calls[1].attributes["gen_ai.usage.output_tokens"] == 5  # words of "2 + 3 = 5"

    [tool_span] = by_name(spans, "execute_tool ")
    assert tool_span.name == "execute_tool t_trace_add"
    assert parent(tool_span, spans) is agent_span
    assert tool_span.attributes is not None
    assert tool_span.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool_span.attributes["gen_ai.tool.name"] == "t_trace_add"
    assert tool_span.attributes["podium.tool.status"] == "ok"
    assert str(tool_span.attributes["gen_ai.tool.call.id"])
    assert calls[0].end_time is not None and tool_span.start_time is not None
    assert calls[0].end_time <= tool_span.start_time <= (calls[1].start_time or 0)
    assert SPAN_SEEN_BY_TOOL == [True]
    # Nothing of the conversation is put on spans.
    text = json.dumps([dict(s.attributes or {}) for s in spans])
    assert "what is 2 + 3" not in text and "2 + 3 = 5" not in text


async def test_a_run_that_waits_ends_its_spans_and_its_resumed_stretch_names_the_run(
    exporter: InMemorySpanExporter, runtime: Podium
) -> None:
    run = await chat(runtime, "charger", "charge me")
    assert run.status == "interrupted"
    first = list(exporter.get_finished_spans())
    [run_span] = by_name(first, "run ")
    assert run_span.attributes is not None
    assert run_span.attributes["podium.run.status"] == "interrupted"
    [step] = by_name(first, "step ")
    assert step.attributes is not None and step.attributes["podium.step.status"] == "interrupted"
    assert not by_name(first, "execute_tool ")  # asked before it runs
    exporter.clear()

    [question] = await runtime.pending_questions(run.id)
    await runtime.answer(question.id, "approve")
    run = await runtime.wait(run.id, timeout=30)
    assert run.status == "succeeded", run.error
    second = list(exporter.get_finished_spans())
    [resumed] = by_name(second, "run ")
    assert resumed.attributes is not None
    assert resumed.attributes["podium.run_id"] == run.id
    assert resumed.attributes["podium.run.resumed"] is True
    assert resumed.context.trace_id != run_span.context.trace_id  # a new stretch, linked by id
    # The model call made before the question is replayed from the record, not made again.
    assert len(by_name(second, "chat ")) == 1
    [tool_span] = by_name(second, "execute_tool ")
    assert tool_span.attributes is not None
    assert tool_span.attributes["gen_ai.tool.name"] == "t_trace_charge"


async def test_a_failing_step_is_an_error_span(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    tracing.install(exporter, batch=False)
    flow = Flow.model_validate(
        {
            "name": "failing",
            "nodes": [
                {"id": "boom", "type": "python", "config": {"function": "tests.support.nodes:boom"}}
            ],
            "edges": [],
        }
    )
    url = f"sqlite:///{tmp_path / 'podium.db'}"
    async with Podium.open(url, settings=fast_settings(), workers=1) as runtime:
        handle = await runtime.start(flow, {})
        run = await runtime.wait(handle.run_id, timeout=30)
    assert run.status == "failed"
    [step] = by_name(list(exporter.get_finished_spans()), "step ")
    assert step.status.status_code == trace.StatusCode.ERROR
    assert step.attributes is not None and step.attributes["podium.step.status"] == "failed"


async def test_nothing_is_recorded_or_sent_when_tracing_is_not_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with otlp_receiver() as receiver:
        # The standard variables alone do not turn tracing on.
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
        url = f"sqlite:///{tmp_path / 'podium.db'}"
        async with Podium.open(url, settings=Settings(workers=1, poll_seconds=0.05)) as runtime:
            run = await chat(runtime, "adder", "what is 2 + 3?")
            assert run.status == "succeeded", run.error
            assert not tracing.enabled()
            assert tracing.flush()
        time.sleep(0.3)
    assert SPAN_SEEN_BY_TOOL == [False]  # no span was current anywhere
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)  # none installed
    assert receiver.requests == [] and receiver.spans == []


async def test_spans_reach_an_otlp_collector_over_http(tmp_path: Path) -> None:
    with otlp_receiver() as receiver:
        settings = fast_settings(otel_endpoint=receiver.url, otel_service_name="podium-test")
        url = f"sqlite:///{tmp_path / 'podium.db'}"
        async with Podium.open(url, settings=settings, workers=1) as runtime:
            assert tracing.enabled()
            run = await chat(runtime, "adder", "what is 2 + 3?")
            assert run.status == "succeeded", run.error
            assert tracing.flush()
    assert receiver.requests
    assert {r for r in receiver.requests} == {("/v1/traces", "application/x-protobuf")}
    names = sorted(span.name for span in receiver.spans)
    assert names == [
        "chat script",
        "chat script",
        "execute_tool t_trace_add",
        "invoke_agent adder",
        "run chat",
        "step agent",
        "step out",
    ]
    assert {span.resource["service.name"] for span in receiver.spans} == {"podium-test"}
    assert len({span.trace_id for span in receiver.spans}) == 1
    [root] = [s for s in receiver.spans if s.name == "run chat"]
    assert root.parent_span_id == "" and root.attributes["podium.run_id"] == run.id
    [tool_span] = [s for s in receiver.spans if s.name.startswith("execute_tool")]
    assert tool_span.attributes["gen_ai.tool.name"] == "t_trace_add"
    [first_call, _] = [s for s in receiver.spans if s.name == "chat script"]
    assert first_call.attributes["gen_ai.request.model"] == "script"
    assert first_call.attributes["gen_ai.usage.input_tokens"] > 0


async def test_the_switch_hands_the_standard_otel_variables_to_the_exporter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with otlp_receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        settings = fast_settings(otel_enabled=True)
        url = f"sqlite:///{tmp_path / 'podium.db'}"
        async with Podium.open(url, settings=settings, workers=1) as runtime:
            run = await chat(runtime, "adder", "what is 2 + 3?")
            assert run.status == "succeeded", run.error
            assert tracing.flush()
    assert "run chat" in {span.name for span in receiver.spans}


def test_the_settings_refuse_an_endpoint_that_is_not_an_http_url() -> None:
    with pytest.raises(ValueError, match="is not an http\\(s\\) URL of an OTLP/HTTP collector"):
        Settings(otel_endpoint="collector:4318")
    assert Settings(otel_endpoint=" ").otel_endpoint is None
    assert tracing.traces_url("http://c:4318/") == "http://c:4318/v1/traces"
    assert tracing.traces_url("http://c:4318/v1/traces") == "http://c:4318/v1/traces"


def test_without_the_otel_extra_runs_go_on_and_asking_for_traces_says_what_to_install(
    tmp_path: Path,
) -> None:
    """In a process where the OpenTelemetry SDK and exporter cannot be imported."""
    script = f"""
import asyncio, sys
sys.modules["opentelemetry.sdk"] = None
sys.modules["opentelemetry.exporter"] = None
from podium import Podium
from podium.config import Settings
from podium.errors import InvalidInput
from podium.llm.base import Message, ModelRequest, traced_complete
from podium.llm.offline import OfflineProvider
from podium.engine.flow import Flow

FLOW = Flow.model_validate({{"name": "one", "nodes": [{{"id": "out", "type": "output",
    "config": {{"keys": ["x"]}}}}], "edges": []}})

async def main():
    url = "sqlite:///{tmp_path / "podium.db"}"
    async with Podium.open(url, settings=Settings(workers=1, poll_seconds=0.05)) as runtime:
        handle = await runtime.start(FLOW, {{"x": 1}})
        print((await runtime.wait(handle.run_id, timeout=30)).status)
    try:
        async with Podium.open(url, settings=Settings(otel_endpoint="http://127.0.0.1:9")):
            pass
    except InvalidInput as exc:
        print(exc.message)

asyncio.run(main())
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    status, message = done.stdout.splitlines()
    assert status == "succeeded"
    assert message == (
        "PODIUM_OTEL_ENDPOINT or PODIUM_OTEL_ENABLED asks for traces, but the OpenTelemetry "
        "packages are not installed: pip install 'podium[otel]', or unset them"
    )


def test_configure_refuses_without_the_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    module = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(InvalidInput, match=r"pip install 'podium\[otel\]'"):
        tracing.configure(Settings(otel_enabled=True))
    assert not tracing.enabled()
    assert not tracing.configure(Settings())  # not asked: nothing to import


async def test_a_model_call_outside_an_agent_has_its_chat_span(
    exporter: InMemorySpanExporter,
) -> None:
    """`traced_complete`: what the packs' nodes (orchestrator, storyflow) call models with."""
    request = ModelRequest(model="echo", messages=[Message("user", "hello out there")])
    answer = await traced_complete(OfflineProvider(), request, run_id="run_x")
    assert answer.text == "hello out there"
    [span] = exporter.get_finished_spans()
    assert span.name == "chat echo" and span.parent is None
    assert dict(span.attributes or {}) == {
        "podium.run_id": "run_x",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "offline",
        "gen_ai.system": "offline",
        "gen_ai.request.model": "echo",
        "gen_ai.usage.input_tokens": 3,
        "gen_ai.usage.output_tokens": 3,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.response.model": "echo",
    }
    tracing.shutdown()
    assert (await traced_complete(OfflineProvider(), request, run_id="run_x")).text == answer.text
    assert len(exporter.get_finished_spans()) == 1  # off: no span
