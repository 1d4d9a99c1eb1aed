"""The README's first screen, as a newcomer meets it: from a fresh clone to a running server
with the console in at most three commands; and the Quickstart's `pick` helper, which prints
an error answer's message rather than a traceback.

The clone is real (`git clone` of this repository's committed HEAD into a temporary folder);
only the installation is borrowed: the clone's `.venv` is a link to the virtualenv running
the tests (so nothing is downloaded), and PYTHONPATH points at the clone's own sources, so
the clone's code is what runs.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
VENV = Path(sys.executable).parent.parent
FIRST_SCREEN_LINES = 40
START_SECONDS = 120


def first_screen_commands(readme: str) -> list[str]:
    """The commands of the first ```sh block of "## Start here"."""
    section = re.search(r"^## Start here\n(.*?)(?=^## |\Z)", readme, re.S | re.M)
    assert section, "README.md has no '## Start here' section"
    block = re.search(r"^```sh\n(.*?)^```$", section.group(1), re.S | re.M)
    assert block, "'## Start here' has no ```sh block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_first_screen_is_three_commands_from_a_clone_to_the_console() -> None:
    readme = README.read_text()
    commands = first_screen_commands(readme)
    assert len(commands) <= 3, commands
    assert commands[0].startswith("git clone ") and commands[-1] == "make dev", commands
    head = "\n".join(readme.splitlines()[:FIRST_SCREEN_LINES])
    assert "make dev" in head, "the commands are not on the README's first screen"
    for needed in (".venv/bin/podium", "source .venv/bin/activate", "docs/console.md"):
        assert needed in readme.split("## What it is")[0], needed
    for screenshot in ("apps", "flow-graph", "session", "artifact", "agent-chat"):
        assert f"(docs/screenshots/{screenshot}.png)" in readme, screenshot
    assert "(docs/security.md)" in readme.split("## What it is")[0]


@pytest.mark.slow
def test_a_newcomer_reaches_the_console_from_a_fresh_clone(tmp_path: Path) -> None:
    assert (VENV / ".installed").exists(), (
        f"{VENV} has no .installed stamp (make venv writes it); without it make dev would "
        "install Podium again"
    )
    commands = first_screen_commands(README.read_text())
    clone_command, *moves, run = [c.replace("REPOSITORY_URL", str(ROOT)) for c in commands]
    port = free_port()
    # After the clone and the cd: borrow the test's virtualenv, older than its stamp so that
    # make does not reinstall (the clone's files are all new).
    borrow = f"ln -s {VENV} .venv && touch -d 2000-01-01 pyproject.toml"
    script = "\n".join(["set -eu", clone_command, *moves, borrow, f"exec {run}"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env.update(PORT=str(port), PYTHONPATH=str(tmp_path / "podium" / "src"), PODIUM_WORKERS="1")
    log = tmp_path / "newcomer.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        link = None
        while link is None:
            output = log.read_text(errors="replace")
            link = re.search(
                rf"console: (http://127\.0\.0\.1:{port})/console/#/login\?refresh=(\S+)", output
            )
            assert process.poll() is None or link, f"the newcomer's commands ended:\n{output}"
            assert time.monotonic() < deadline, f"no console link in {START_SECONDS} s:\n{output}"
            time.sleep(0.2)
        origin, refresh = link.group(1), link.group(2)
        with urllib.request.urlopen(f"{origin}/console/", timeout=10) as reply:
            assert reply.status == 200
            assert b"<html" in reply.read().lower()
        request = urllib.request.Request(
            f"{origin}/api/v1/auth/refresh",
            data=json.dumps({"refresh_token": refresh}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert json.load(reply)["user"]["username"] == "admin"
        assert (tmp_path / "podium" / "podium.db").exists()  # the clone's own database
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    output = log.read_text(errors="replace")
    assert "Traceback" not in output, output


def pick_function() -> str:
    match = re.search(r"^pick\(\) \{.*?^\}$", README.read_text(), re.S | re.M)
    assert match, "the README defines no pick() helper"
    return match.group(0)


@pytest.mark.parametrize(
    ("answer", "path", "status", "out", "err"),
    [
        ('{"a": {"b": [1, 2]}}', "a.b.1", 0, "2", ""),
        (
            '{"error": {"code": "not_found", "message": "no flow named \'x\'"}}',
            "id",
            1,
            "",
            "error: no flow named 'x'",
        ),
        ('{"error": {"code": "x", "message": "m"}}', "error.message", 0, "m", ""),
        ('{"a": 1}', "b", 1, "", "pick: no 'b' in the answer: {\"a\": 1}"),
        ("", "id", 1, "", "pick: the answer is not JSON (is the server running?): ''"),
        ("<html>", "id", 1, "", "pick: the answer is not JSON (is the server running?): '<html>'"),
    ],
)
def test_pick_prints_the_field_or_the_error_without_a_traceback(
    answer: str, path: str, status: int, out: str, err: str
) -> None:
    done = subprocess.run(
        ["bash", "-c", f'{pick_function()}\nprintf %s "$ANSWER" | pick "$FIELD"'],
        env={**os.environ, "ANSWER": answer, "FIELD": path},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stdout.strip(), done.stderr.strip()) == (status, out, err)
