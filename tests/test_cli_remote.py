"""`podium` against a live `podium serve` (SQLite, and PostgreSQL when configured): a login
kept in a private config file, the server commands, and the `ask` flow started remotely with
its question answered at a terminal (a pseudo-terminal)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from tests.api.live import PASSWORD, ROOT, LiveServer
from tests.cli_remote_live import ASK, PODIUM, environment, logged_in_config, podium, serve
from tests.conftest import BACKENDS

from podium.client import Client

DOCUMENTED = "http://127.0.0.1:8000"


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    yield from serve(request, tmp_path_factory)


@pytest.fixture(scope="module")
def config(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return logged_in_config(live, tmp_path_factory)


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
    nowhere = {"PODIUM_CLI_CONFIG": str(tmp_path / "none.json")}
    bad = podium(["--server", "127.0.0.1:8000", "apps", "list"], nowhere)
    assert bad.exit_code == 2
    assert bad.output == (
        "error: --server: the server is an http:// or https:// URL, not '127.0.0.1:8000'\n"
    )
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


def test_the_documented_session_runs_as_printed(live: LiveServer, tmp_path: Path) -> None:
    """docs/client.md's command-line example, in bash against the live server, prints what
    the page shows (`…` stands for anything)."""
    page = (ROOT / "docs" / "client.md").read_text()
    match = re.search(r"^```sh\n(.*?)^```\n\n```text\n(.*?)^```", page, re.S | re.M)
    assert match, "docs/client.md has no sh block with its output"
    script, expected = (part.replace(DOCUMENTED, live.origin) for part in match.groups())
    env = environment(tmp_path / "cli.json", PODIUM_PASSWORD=PASSWORD)
    env["PATH"] = f"{PODIUM.parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    at = 0
    for wanted in expected.splitlines():
        if wanted.strip() in ("", "…"):
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in wanted.split("…")))
        while at < len(lines) and not pattern.search(lines[at]):
            at += 1
        assert at < len(lines), f"no {wanted!r} in:\n{done.stdout}"
        at += 1
