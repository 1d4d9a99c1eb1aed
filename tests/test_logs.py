"""Logs (`podium.logs`): `PODIUM_LOG_FORMAT=json` writes one JSON object a line, and the
lines written for a run (by the worker, by a tool) carry its app, session and run ids (and
the trace's when tracing is on); `text` shows them in brackets; `PODIUM_LOG_LEVEL` filters.
And the same through the real processes: `podium worker` and `podium serve` (whose access
log turns JSON too, and whose spans reach an OTLP collector)."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.api.live import BIN, ROOT, LiveServer, create_admin, login, server_env
from tests.conftest import fast_settings
from tests.support.otlp_receiver import otlp_receiver

import podium
from podium import Podium, logs, tracing
from podium.config import Settings
from podium.engine.flow import Flow
from podium.storage.agents import save_agent
from podium.tools.base import DEFAULT, tool

CHAT_FLOW = Flow.model_validate(
    json.loads((Path(podium.__file__).parent / "flows" / "chat.json").read_text())
)
tool_log = logging.getLogger("podium.tests.tool")


@tool(registry=DEFAULT)
async def t_logs_lookup(name: str) -> str:
    """Look a customer up.

    Args:
        name: The customer's name.
    """
    tool_log.info("looking up %s", name, extra={"customer": name})
    return f"{name} is a customer since 2020"


LOOKER = {
    "name": "looker",
    "model": "offline/script",
    "tools": ["t_logs_lookup"],
    "script": [
        {"tool_calls": [{"name": "t_logs_lookup", "arguments": {"name": "Ada"}}]},
        {"text": "Ada is a customer."},
    ],
}


@pytest.fixture(autouse=True)
def root_logger_restored() -> Iterator[None]:
    """`configure_logging` adds a handler to the root logger and sets its level."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    tracing.shutdown()


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Podium]:
    async with Podium.open(database_url, settings=fast_settings(), workers=1) as opened:
        yield opened


async def run_looker(runtime: Podium) -> Any:
    app_id = await runtime.default_app()
    await runtime.store.run_script(lambda: save_agent(app_id, "looker", LOOKER, None, time.time()))
    handle = await runtime.start(CHAT_FLOW, {"agent": "looker", "message": "who is Ada?"})
    return await runtime.wait(handle.run_id, timeout=30)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def written(capsys: pytest.CaptureFixture[str], until: str) -> str:
    """What was written to stderr, once it holds `until` (the worker logs a run's end just
    after the run's end is committed, when `wait` may already have returned)."""
    text = ""
    for _ in range(100):
        text += capsys.readouterr().err
        if until in text:
            return text
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {until!r} in the log:\n{text}")


async def test_json_lines_of_a_run_carry_its_ids(
    runtime: Podium, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure_logging(Settings(log_format="json", log_level="info"))
    run = await run_looker(runtime)
    assert run.status == "succeeded", run.error
    lines = json_lines(await written(capsys, "podium.worker"))
    ids = {"app_id": run.app_id, "session_id": run.session_id, "run_id": run.id}

    [ended] = [line for line in lines if line["logger"] == "podium.worker"]
    assert ended["message"] == f"run {run.id}: succeeded (steps: 2)"
    assert ended["level"] == "INFO"
    assert {key: ended[key] for key in ids} == ids
    assert ended["status"] == "succeeded" and ended["steps"] == 2
    assert ended["ts"].endswith("Z") and "T" in ended["ts"]
    assert "trace_id" not in ended  # tracing is off

    [from_tool] = [line for line in lines if line["logger"] == "podium.tests.tool"]
    assert from_tool["message"] == "looking up Ada" and from_tool["customer"] == "Ada"
    assert {key: from_tool[key] for key in ids} == ids


async def test_with_tracing_on_lines_name_the_trace_and_span(
    runtime: Podium, capsys: pytest.CaptureFixture[str]
) -> None:
    exporter = InMemorySpanExporter()
    tracing.install(exporter, batch=False)
    logs.configure_logging(Settings(log_format="json"))
    run = await run_looker(runtime)
    assert run.status == "succeeded", run.error
    lines = json_lines(await written(capsys, "podium.worker"))
    [from_tool] = [line for line in lines if line["logger"] == "podium.tests.tool"]
    [tool_span] = [s for s in exporter.get_finished_spans() if s.name.startswith("execute_tool")]
    assert from_tool["trace_id"] == format(tool_span.context.trace_id, "032x")
    assert from_tool["span_id"] == format(tool_span.context.span_id, "016x")


async def test_text_lines_show_the_ids_and_the_level_filters(
    runtime: Podium, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure_logging(Settings(log_format="text", log_level="INFO"))
    run = await run_looker(runtime)
    text = await written(capsys, "podium.worker")
    [line] = [line for line in text.splitlines() if "podium.worker" in line]
    assert line.endswith(
        f"INFO podium.worker: run {run.id}: succeeded (steps: 2) "
        f"[app_id={run.app_id} session_id={run.session_id} run_id={run.id}]"
    )

    logs.configure_logging(Settings(log_format="json", log_level="WARNING"))
    run = await run_looker(runtime)
    assert run.status == "succeeded"
    await asyncio.sleep(0.3)
    assert capsys.readouterr().err == ""  # INFO is below WARNING


def test_the_settings_refuse_an_unknown_format_or_level(tmp_path: Path) -> None:
    env = server_env(PODIUM_LOG_FORMAT="xml")
    done = subprocess.run(
        [str(BIN / "podium"), "worker", "--until-idle", "--db", str(tmp_path / "p.db")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "setting PODIUM_LOG_FORMAT: Input should be 'text' or 'json'" in done.stderr
    with pytest.raises(ValueError, match="'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL'"):
        Settings(log_level="verbose")


def test_podium_worker_writes_json_lines(tmp_path: Path) -> None:
    db = tmp_path / "podium.db"

    async def queue() -> tuple[Any, str]:
        async with Podium.open(f"sqlite:///{db}", settings=fast_settings(), workers=0) as opened:
            handle = await opened.start(CHAT_FLOW, {"agent": "chat", "message": "hello"})
            return handle, await opened.default_app()

    handle, app_id = asyncio.run(queue())  # queued, for the worker process to run
    env = server_env(PODIUM_LOG_FORMAT="json")
    done = subprocess.run(
        [str(BIN / "podium"), "worker", "--until-idle", "--db", str(db)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [ended] = [line for line in json_lines(done.stderr) if line["logger"] == "podium.worker"]
    assert ended["run_id"] == handle.run_id and ended["session_id"] == handle.session_id
    assert ended["app_id"] == app_id and ended["status"] == "succeeded"


@pytest.mark.slow
def test_podium_serve_logs_json_and_exports_spans(tmp_path: Path) -> None:
    db = tmp_path / "podium.db"
    with otlp_receiver() as receiver:
        env = server_env(PODIUM_LOG_FORMAT="json", PODIUM_OTEL_ENDPOINT=receiver.url)
        create_admin(db, env)
        server = LiveServer(db, env).start()
        try:
            token = login(server)
            app = server.call("POST", "/apps", {"name": "logged"}, token)["id"]
            body = {"agent": "chat", "message": "hello there"}
            answer = server.call("POST", f"/apps/{app}/chat/messages", body, token)
            assert answer["status"] == "succeeded", answer
        finally:
            server.stop()  # SIGTERM: the spans left are exported on the way out
    lines = json_lines(server.output())
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert any("/chat/messages" in line["message"] and "200" in line["message"] for line in access)
    assert all("token=" not in line["message"] for line in access)
    [ended] = [line for line in lines if line["logger"] == "podium.worker"]
    assert ended["run_id"] == answer["run_id"] and ended["app_id"] == app
    assert ended["session_id"] == answer["session_id"]
    runs = [s for s in receiver.spans if s.name == "run chat"]
    assert [s.attributes["podium.run_id"] for s in runs] == [answer["run_id"]]
    [call] = [s for s in receiver.spans if s.name == "chat echo"]
    assert call.attributes["gen_ai.provider.name"] == "offline"


def test_serve_logs_through_uvicorn_in_the_settings_format() -> None:
    from podium.api.accesslog import uvicorn_log_config

    config = uvicorn_log_config(Settings(log_format="json", log_level="warning"))
    assert config["root"] == {"handlers": ["podium"], "level": "WARNING"}
    assert config["loggers"]["uvicorn.access"]["level"] == "WARNING"
    for name in ("default", "access", "podium"):
        assert config["handlers"][name]["formatter"] == "podium_json"
    text = uvicorn_log_config(Settings())
    assert text["handlers"]["access"]["formatter"] == "access"  # uvicorn's own, for people
    assert text["handlers"]["podium"]["formatter"] == "podium_text"


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_asking_for_traces_without_the_otel_extra_is_one_line(command: str, tmp_path: Path) -> None:
    blocked = (
        "import sys; sys.modules['opentelemetry.exporter'] = None; "
        "from podium.cli import main; main()"
    )
    env = server_env(PODIUM_OTEL_ENDPOINT="http://127.0.0.1:9")
    done = subprocess.run(
        [str(BIN / "python"), "-c", blocked, command, "--db", str(tmp_path / "p.db")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "error: PODIUM_OTEL_ENDPOINT or PODIUM_OTEL_ENABLED asks for traces, but the "
        "OpenTelemetry packages are not installed: pip install 'podium[otel]', or unset them"
    )
    assert "Traceback" not in done.stderr


def test_the_worker_command_leaves_the_logging_of_its_caller_as_it_was(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from podium.cli import main

    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    db = str(tmp_path / "p.db")
    result = CliRunner().invoke(main, ["worker", "--until-idle", "--db", db])
    assert result.exit_code == 0, result.output
    assert (list(root.handlers), root.level) == before
