"""OpenTelemetry traces of runs, steps, agents, model calls and tool calls; off by default.

Nothing leaves the server unless the operator turns tracing on (`PODIUM_OTEL_ENDPOINT`, or
`PODIUM_OTEL_ENABLED` with the standard `OTEL_EXPORTER_OTLP_*` variables): until then no
tracer provider exists, the `opentelemetry` packages are not even imported, and every hook
below costs one check of `_tracer is None`. The packages are the `otel` extra
(`pip install 'podium[otel]'`). Podium keeps its own provider and never installs a global
one, so libraries that look for the global provider export nothing either.

Model calls follow the OpenTelemetry GenAI semantic conventions (`gen_ai.*`); Podium's own
attributes are `podium.*`. A run that waits for a person ends its spans: when it resumes (in
this process or another) its new spans carry the same `podium.run_id`. Message contents and
tool arguments are never put on spans.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from podium.errors import InvalidInput

if TYPE_CHECKING:
    from podium.config import Settings

TRACER_NAME = "podium"
TRACES_PATH = "/v1/traces"
OTEL_EXTRA = "pip install 'podium[otel]'"

_tracer: Any = None  # an opentelemetry Tracer while tracing is on
_provider: Any = None  # its TracerProvider (flushed and shut down by `shutdown`)
_NO_SPAN: AbstractContextManager[None] = contextlib.nullcontext()


def enabled() -> bool:
    """Whether spans are being recorded in this process."""
    return _tracer is not None


def wanted(settings: Settings) -> bool:
    """Whether the settings turn tracing on: Podium's own switch or endpoint, never the
    standard `OTEL_*` variables alone."""
    return settings.otel_enabled or settings.otel_endpoint is not None


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector's base URL (`http://collector:4318` →
    `http://collector:4318/v1/traces`); a URL that already ends with the path is kept."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


def configure(settings: Settings) -> bool:
    """Start exporting over OTLP/HTTP if the settings ask for it and this process does not
    export yet; returns whether tracing is on. Settings that do not ask leave it as it is.

    Raises:
        InvalidInput: tracing is asked for but the `otel` extra is not installed.
    """
    if _tracer is not None or not wanted(settings):
        return _tracer is not None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise InvalidInput(
            "PODIUM_OTEL_ENDPOINT or PODIUM_OTEL_ENABLED asks for traces, but the "
            f"OpenTelemetry packages are not installed: {OTEL_EXTRA}, or unset them"
        ) from None
    endpoint = traces_url(settings.otel_endpoint) if settings.otel_endpoint else None
    # Without Podium's endpoint the exporter reads OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
    # OTEL_EXPORTER_OTLP_ENDPOINT (else the standard http://localhost:4318).
    install(OTLPSpanExporter(endpoint=endpoint), service_name=settings.otel_service_name)
    return True


def install(exporter: Any, *, service_name: str = "podium", batch: bool = True) -> Any:
    """Record spans and hand them to `exporter` (any OpenTelemetry `SpanExporter`: OTLP, the
    console, an in-memory one in tests); returns the tracer provider. `batch=False` exports
    each span as it ends."""
    global _tracer, _provider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    from podium.version import __version__

    shutdown()
    resource = Resource.create({"service.name": service_name, "service.version": __version__})
    provider = TracerProvider(resource=resource)
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    _provider, _tracer = provider, provider.get_tracer(TRACER_NAME, __version__)
    return provider


def shutdown() -> None:
    """Export what is left and stop recording (tracing is off afterwards)."""
    global _tracer, _provider
    provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.shutdown()


def flush(timeout_seconds: float = 10.0) -> bool:
    """Export the spans that ended so far; False if they could not all be sent in time."""
    if _provider is None:
        return True
    return bool(_provider.force_flush(int(timeout_seconds * 1000)))


@contextlib.contextmanager
def _span(name: str, attributes: dict[str, Any], client: bool = False) -> Iterator[Any]:
    """A current span that records an exception as its error; a `BaseException` that is not
    an error (a step that waits for a person, a cancelled task) just ends it."""
    from opentelemetry.trace import SpanKind, Status, StatusCode

    kind = SpanKind.CLIENT if client else SpanKind.INTERNAL
    with _tracer.start_as_current_span(
        name,
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except Exception as exc:
            span.record_exception(exc)
            span.set_attribute("error.type", type(exc).__qualname__)
            span.set_status(Status(StatusCode.ERROR, str(exc) or type(exc).__name__))
            raise


def run_span(
    app_id: str, session_id: str, run_id: str, flow: str, *, resumed: bool
) -> AbstractContextManager[Any]:
    """The span of one stretch of a run in this worker (until it ends, waits or is handed
    back); `resumed` when an earlier stretch ran before."""
    if _tracer is None:
        return _NO_SPAN
    attributes = {
        "podium.app_id": app_id,
        "podium.session_id": session_id,
        "podium.run_id": run_id,
        "podium.flow": flow,
        "podium.run.resumed": resumed,
    }
    return _span(f"run {flow}", attributes)


def step_span(
    run_id: str, node_id: str, iteration: int, attempt: int
) -> AbstractContextManager[Any]:
    """The span of one attempt of one node (a step)."""
    if _tracer is None:
        return _NO_SPAN
    attributes = {
        "podium.run_id": run_id,
        "podium.node_id": node_id,
        "podium.iteration": iteration,
        "podium.attempt": attempt,
    }
    return _span(f"step {node_id}", attributes)


def agent_span(run_id: str, agent: str) -> AbstractContextManager[Any]:
    """The span of an agent's loop in a step (`invoke_agent`): its model and tool calls."""
    if _tracer is None:
        return _NO_SPAN
    attributes = {
        "podium.run_id": run_id,
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": agent,
    }
    return _span(f"invoke_agent {agent}", attributes)


def model_call_span(
    run_id: str,
    provider: str,
    model: str,
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> AbstractContextManager[Any]:
    """The span of one call to a model (`chat`); its duration is the call's latency."""
    if _tracer is None:
        return _NO_SPAN
    attributes: dict[str, Any] = {
        "podium.run_id": run_id,
        "gen_ai.operation.name": "chat",
        # `gen_ai.provider.name` is the current convention; `gen_ai.system` the one many
        # backends still read.
        "gen_ai.provider.name": provider,
        "gen_ai.system": provider,
        "gen_ai.request.model": model,
    }
    if temperature is not None:
        attributes["gen_ai.request.temperature"] = temperature
    if max_tokens is not None:
        attributes["gen_ai.request.max_tokens"] = max_tokens
    return _span(f"chat {model}", attributes, client=True)


def record_model_response(
    span: Any,
    *,
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    finish_reason: str | None,
) -> None:
    """What the model answered, on its `model_call_span` (nothing when tracing is off)."""
    if span is None:
        return
    span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
    if model:
        span.set_attribute("gen_ai.response.model", model)
    if finish_reason:
        span.set_attribute("gen_ai.response.finish_reasons", [finish_reason])


def tool_call_span(run_id: str, tool: str, call_id: str | None) -> AbstractContextManager[Any]:
    """The span of one tool call (`execute_tool`)."""
    if _tracer is None:
        return _NO_SPAN
    attributes = {
        "podium.run_id": run_id,
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool,
        "gen_ai.tool.type": "function",
    }
    if call_id is not None:
        attributes["gen_ai.tool.call.id"] = call_id
    return _span(f"execute_tool {tool}", attributes)


def set_attribute(span: Any, key: str, value: str | int | bool) -> None:
    """One attribute on a span of the hooks above (nothing when tracing is off)."""
    if span is not None:
        span.set_attribute(key, value)


def set_error(span: Any, error: str) -> None:
    """Mark a span failed with `error` (a step that failed without raising out of it)."""
    if span is not None:
        from opentelemetry.trace import Status, StatusCode

        span.set_status(Status(StatusCode.ERROR, error))


def current_ids() -> tuple[str, str] | None:
    """The current trace and span ids in hex (for log lines), or None."""
    if _tracer is None:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
