"""`podium` against a live `podium serve` (SQLite, and PostgreSQL when configured): a login
kept in a private config file, the server commands, the `ask` flow started remotely with its
question answered at a terminal (a pseudo-terminal), and `events tail` going on across a
restart of the server with every event once."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from click.testing import CliRunner, Result
from tests.api.live import PASSWORD, ROOT, SECRET, LiveServer, server_env
from tests.conftest import BACKENDS, _truncate

from podium.auth.service import setup_token_of
from podium.cli import main
from podium.client import Client

ASK = ROOT / "examples" / "flows" / "ask.json"
PODIUM = Path(sys.executable).parent / "podium"


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    db = tmp_path_factory.mktemp("live") / "podium.db"
    url: str | None = None
    if request.param == "postgresql":
        url = str(request.getfixturevalue("postgres_migrated"))
        asyncio.run(_truncate(url))
    server = LiveServer(db=db, env=server_env(), database_url=url).start()
    try:
        admin = {"email": "admin@example.com", "username": "admin", "password": PASSWORD}
        server.call("POST", "/setup", {"setup_token": setup_token_of(SECRET), **admin})
        yield server
    finally:
        if server.process is not None:
            server.stop()


@pytest.fixture(scope="module")
def config(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config file with the admin's login and an app `cli` holding the ask flow."""
    path = tmp_path_factory.mktemp("config") / "podium" / "cli.json"
    env = {"PODIUM_CLI_CONFIG": str(path), "PODIUM_PASSWORD": PASSWORD}
    logged = podium(["--server", live.origin, "login", "-u", "admin"], env)
    assert logged.exit_code == 0, logged.output
    assert logged.output.strip() == f"logged in to {live.origin} as admin"
    assert podium(["apps", "create", "cli"], env).exit_code == 0
    pushed = podium(["flows", "push", str(ASK), "--app", "cli"], env)
    assert re.fullmatch(r"flow 'ask' v1: flw_\w+\n", pushed.output), pushed.output
    return path


def podium(args: list[str], env: dict[str, str], input: str | None = None) -> Result:
    """`podium ARGS` in this process (click's runner), talking to the live server."""
    env = {"PODIUM_SERVER": "", "PODIUM_APP": "", **env}
    return CliRunner().invoke(main, args, env=env, input=input)


def styled(text: str) -> str:
    """A pattern for `text` as rich shows it on a terminal (styles between the words)."""
    return r"(?:\x1b\[[0-9;]*m)*".join(re.escape(character) for character in text)


def environment(config: Path, **extra: str) -> dict[str, str]:
    """The environment of a `podium` process that uses the stored login."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    return {**env, "PODIUM_CLI_CONFIG": str(config), "COLUMNS": "120", **extra}


def test_the_login_is_kept_private_and_used_by_the_next_commands(
    live: LiveServer, config: Path
) -> None:
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    stored = json.loads(config.read_text())
    assert stored["default"] == live.origin
    assert stored["servers"][live.origin]["refresh_token"]
    env = {"PODIUM_CLI_CONFIG": str(config)}

    listed = podium(["apps", "list"], env)
    assert "cli" in listed.output
    flows = podium(["flows", "list", "--app", "cli"], env)
    assert re.search(r"^ask\s+1\s", flows.output, re.M), flows.output
    started = podium(["sessions", "start", "ask", "--app", "cli", "--no-follow"], env)
    session = re.search(r"session (ses_\w+)", started.output)
    assert session, started.output
    with Client(live.origin) as client:
        client.login("admin", PASSWORD)
        app_id = next(a.id for a in client.iter_apps() if a.name == "cli")
        run_id = client.get_session(app_id, session.group(1)).run_id
        assert run_id is not None
        client.wait_for(app_id, run_id)
    shown = podium(["sessions", "show", session.group(1), "--app", "cli"], env)
    assert "question (int_" in shown.output and "What is your name?" in shown.output
    answered = podium(
        ["sessions", "answer", session.group(1), "Ada", "--app", "cli", "--follow"], env
    )
    assert answered.exit_code == 0, answered.output
    assert '"greeting": "Hello, Ada!"' in answered.output
    assert session.group(1) in podium(["sessions", "list", "--app", "cli"], env).output

    other = podium(["sessions", "start", "ask", "--app", "cli", "--no-follow"], env)
    other_id = re.search(r"session (ses_\w+)", other.output)
    assert other_id
    cancelled = podium(["sessions", "cancel", other_id.group(1), "--app", "cli"], env)
    assert cancelled.output.strip() == f"session {other_id.group(1)}: cancelled"

    chat = podium(["chat", "Hello, Podium!", "--app", "cli"], env)
    assert chat.exit_code == 0 and "chat session ses_" in chat.output

    # Errors are one line with the server's code, and an exit code.
    missing = podium(["sessions", "show", "ses_nope", "--app", "cli"], env)
    assert missing.exit_code == 1
    assert (
        missing.output.startswith("error: session 'ses_nope'")
        and "(404 not_found)" in missing.output
    )
    nowhere = podium(["sessions", "list", "--app", "nope"], env)
    assert (nowhere.exit_code, nowhere.output.splitlines()[-1]) == (
        1,
        f"error: no app 'nope' on {live.origin} that you can see (podium apps list)",
    )


def test_a_config_that_others_can_read_is_refused(config: Path, tmp_path: Path) -> None:
    leaky = tmp_path / "cli.json"
    leaky.write_text(config.read_text())
    leaky.chmod(0o644)
    result = podium(["apps", "list"], {"PODIUM_CLI_CONFIG": str(leaky)})
    assert result.exit_code == 1
    assert "open to other users (mode 0644)" in result.output and "chmod 600" in result.output
    none = podium(["apps", "list"], {"PODIUM_CLI_CONFIG": str(tmp_path / "none.json")})
    assert none.exit_code == 2 and "no server: pass --server URL" in none.output
    # Local commands do not need a server.
    local = podium(["flows", "validate", str(ASK)], {"PODIUM_CLI_CONFIG": str(leaky)})
    assert local.exit_code == 0, local.output


def test_the_ask_flow_is_answered_at_the_terminal(config: Path) -> None:
    terminal = pexpect.spawn(
        str(PODIUM),
        ["sessions", "start", "ask", "--app", "cli"],
        env=environment(config),
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 120),
    )
    try:
        terminal.expect(r"What is your name\?")
        terminal.expect("> ")
        terminal.sendline("Ada")
        terminal.expect("Hello, Ada!")
        terminal.expect(pexpect.EOF)
    finally:
        terminal.close()
    assert terminal.exitstatus == 0, terminal.before


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
