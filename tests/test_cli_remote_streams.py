"""`podium events tail` and `podium artifacts watch` against a live `podium serve`: the tail
goes on across a restart of the server with every event once; the watch shows each version."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from tests.api.live import PASSWORD, LiveServer
from tests.cli_remote_live import PODIUM, environment, logged_in_config, podium, serve, styled
from tests.conftest import BACKENDS

from podium.client import Client


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    yield from serve(request, tmp_path_factory)


@pytest.fixture(scope="module")
def config(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return logged_in_config(live, tmp_path_factory)


@pytest.mark.timeout(120)  # two server starts and a CLI process, on a busy CI box
def test_events_tail_goes_on_across_a_restart_of_the_server(live: LiveServer, config: Path) -> None:
    with Client(live.origin) as client:
        client.login("admin", PASSWORD)
        app_id = next(a.id for a in client.iter_apps() if a.name == "cli")
        session = client.start_session(app_id, "ask")
        with subprocess.Popen(
            [str(PODIUM), "events", "tail", "--session", session.id, "--app", "cli"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=environment(config),
            text=True,
        ) as tail:
            try:
                assert tail.stdout is not None
                lines = [tail.stdout.readline()]
                while " run.interrupted " not in lines[-1]:
                    lines.append(tail.stdout.readline())
                    assert lines[-1], "".join(lines)
                live.stop(signal.SIGKILL)
                live.start()
                question = client.get_session(app_id, session.id).pending_question
                assert question is not None
                client.answer(app_id, session.id, question.interrupt_id, "Ada")
                while " run.succeeded " not in lines[-1]:
                    lines.append(tail.stdout.readline())
                    assert lines[-1], "".join(lines)
            finally:
                tail.send_signal(signal.SIGINT)
                tail.wait(timeout=20)
        printed = [int(line.split()[0]) for line in lines if not line.startswith("-")]
        log = [e.seq for e in client.events(app_id, session_id=session.id).items]
        assert printed == log  # every logged event once, in order, across the restart


def test_artifacts_show_and_watch(live: LiveServer, config: Path) -> None:
    with Client(live.origin) as client:
        client.login("admin", PASSWORD)
        app_id = next(a.id for a in client.iter_apps() if a.name == "cli")
        session = client.start_session(app_id, "ask")
        artifact = client.create_artifact(app_id, "Board", {"cards": 1}, session_id=session.id)
        shown = podium(
            ["artifacts", "show", artifact.id, "--app", "cli"], {"PODIUM_CLI_CONFIG": str(config)}
        )
        assert shown.output.startswith(f"artifact {artifact.id}: Board v1\n"), shown.output
        watch = pexpect.spawn(
            str(PODIUM),
            ["artifacts", "watch", artifact.id, "--app", "cli"],
            env=environment(config),
            encoding="utf-8",
            timeout=30,
        )
        try:
            watch.expect("Board v1")
            watch.expect(styled('"cards": 1'))
            client.patch_artifact(app_id, artifact.id, {"cards": 2})
            watch.expect("v2 ")
            watch.expect(styled('"cards": 2'))
        finally:
            watch.close(force=True)
