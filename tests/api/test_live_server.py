"""End to end against a live `podium serve` process: the README's Quickstart, run as written,
and a session that waits for an answer across a stop (SIGTERM, SIGKILL) and a restart.

The Quickstart section of README.md is the script: its ```` ```sh ```` blocks run in order in
one bash session (the server's URL substituted for http://127.0.0.1:8000, the CLI pointed at
the server's database), the ```` ```sh background ```` block (the SSE watcher of the "third
terminal") runs alongside, and the ```` ```sh server ```` block (`make serve`) is what this
test does itself. The fenced block after a command block is its documented output: each of
its lines must appear, in order, in the real output, with ids (`usr_…`) and times masked and
`…` standing for anything.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.api.live import (
    ROOT,
    SECRET,
    LiveServer,
    ask_flow,
    create_admin,
    login,
    server_env,
)

README = ROOT / "README.md"
DOCUMENTED_ORIGIN = "http://127.0.0.1:8000"
ID = re.compile(r"\b([a-z]{2,4})_[0-9a-z]{26}\b")
TIME = re.compile(r"\b1[0-9]{9}(\.[0-9]+)?\b")


@dataclass(frozen=True)
class Block:
    kind: str  # "run", "background" or "server"
    code: str
    expected: str | None  # the documented output, when the README shows one


def quickstart(readme: str) -> list[Block]:
    """The command blocks of README.md's "## Quickstart" section, each with its output."""
    match = re.search(r"^## Quickstart\n(.*?)(?=^## |\Z)", readme, re.S | re.M)
    assert match, "README.md has no '## Quickstart' section"
    fences = re.findall(r"^```([^\n]*)\n(.*?)^```$", match.group(1), re.S | re.M)
    blocks: list[Block] = []
    for info, body in fences:
        words = info.split()
        if words and words[0] == "sh":
            kind = words[1] if len(words) > 1 else "run"
            assert kind in ("run", "background", "server"), f"unknown sh block kind {kind!r}"
            blocks.append(Block(kind, body, None))
        else:
            assert blocks and blocks[-1].expected is None, f"an output without a command:\n{body}"
            blocks[-1] = Block(blocks[-1].kind, blocks[-1].code, body)
    return blocks


def normalize(text: str) -> str:
    return TIME.sub("<time>", ID.sub(r"\1_…", text))


def mismatch(expected: str, actual: str) -> str | None:
    """None when every documented line matches a line of `actual`, in order; else the first
    documented line that does not. `…` in a documented line stands for anything."""
    lines = [line.rstrip() for line in normalize(actual).splitlines()]
    position = 0
    for wanted in normalize(expected).splitlines():
        if not wanted.strip() or wanted.strip() == "…":
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in wanted.rstrip().split("…")))
        while position < len(lines) and not pattern.fullmatch(lines[position]):
            position += 1
        if position == len(lines):
            return wanted
        position += 1
    return None


def script(blocks: list[Block], origin: str, events_file: Path) -> str:
    """One bash script running the blocks, each foreground block's output after a marker."""
    parts = ["set -m  # the background block gets a process group of its own", "cd " + str(ROOT)]
    for number, block in enumerate(blocks):
        code = block.code.replace(DOCUMENTED_ORIGIN, origin)
        if block.kind == "run":
            parts.append(f"echo '@@block {number}'\n{{\n{code}\n}} 2>&1")
        elif block.kind == "background":
            parts.append(f"{{\n{code}\n}} >{events_file} 2>&1 &\nWATCHER=$!")
    parts.append(
        "for _ in $(seq 100); do grep -q 'event: run.succeeded' "
        f"{events_file} && break; sleep 0.1; done\n"
        'kill -- "-$WATCHER"\necho "@@end"'
    )
    return "\n".join(parts) + "\n"


def test_the_matcher_masks_ids_and_times_and_refuses_other_output() -> None:
    actual = '{\n    "id": "ses_01m8r646zsxkas6f52aq9nr34p",\n    "at": 1796108065.78,\n'
    actual += '    "status": "completed",\n    "greeting": "Hello, Ada!"\n}'
    assert mismatch('"id": "ses_01m8r6…",\n"greeting": "Hello, Ada!"', actual) is not None
    assert mismatch('    "id": "ses_…",\n…\n    "greeting": "Hello, Ada!"', actual) is None
    assert mismatch('    "at": 1896108065.1,', actual) is None
    assert mismatch('    "greeting": "Hello, Ada!"\n    "status": "completed",', actual)
    assert mismatch('    "greeting": "Hello, Bob!"', actual) == '    "greeting": "Hello, Bob!"'
    assert mismatch('    "id": "app_…",', actual) is not None


def test_the_quickstart_section_is_where_it_belongs() -> None:
    readme = README.read_text()
    headings = re.findall(r"^## (.+)$", readme, re.M)
    assert headings.index("Quickstart") == headings.index("Set-up") + 1, headings
    blocks = quickstart(readme)
    assert [b.code.strip() for b in blocks if b.kind == "server"] == ["make serve"]
    assert "$(BIN)/podium serve" in (ROOT / "Makefile").read_text()
    assert sum(b.kind == "background" for b in blocks) == 1
    assert all(b.expected for b in blocks if b.kind != "server"), "a command without output"


@pytest.mark.slow
def test_the_readme_quickstart_runs_as_documented(tmp_path: Path) -> None:
    assert shutil.which("curl"), "the Quickstart needs curl (.ci/run installs it)"
    blocks = quickstart(README.read_text())
    db = tmp_path / "podium.db"
    env = server_env()
    server = LiveServer(db, env).start()
    events_file = tmp_path / "events.txt"
    try:
        # The README's CLI commands take no --db: they find the server's database this way,
        # as `make serve` and `podium users create-admin` both default to ./podium.db.
        shell_env = {**env, "PODIUM_DATABASE_URL": f"sqlite:///{db}"}
        done = subprocess.run(
            ["bash", "-c", script(blocks, server.origin, events_file)],
            capture_output=True,
            text=True,
            env=shell_env,
            timeout=50,
            check=False,
        )
    finally:
        server.stop()
    output = done.stdout + done.stderr
    assert "@@end" in done.stdout, output
    outputs = dict(re.findall(r"^@@block (\d+)\n(.*?)(?=^@@)", done.stdout, re.S | re.M))
    for number, block in enumerate(blocks):
        if block.kind == "server":
            continue
        actual = events_file.read_text() if block.kind == "background" else outputs[str(number)]
        assert block.expected is not None
        wrong = mismatch(block.expected, actual)
        assert wrong is None, (
            f"README Quickstart block {number}:\n{block.code}\nis documented to print\n"
            f"{block.expected}\nbut printed\n{actual}\n(first line not found: {wrong!r})"
        )
    assert "Traceback" not in server.output(), server.output()


def wait_until_asked(server: LiveServer, token: str, app: str, run: str) -> None:
    run_view = server.call("GET", f"/apps/{app}/runs/{run}/wait?timeout=20", None, token)
    assert run_view["status"] == "interrupted", run_view


@pytest.mark.slow
@pytest.mark.parametrize("key", ["PODIUM_SECRET_KEY", "kept in the database"])
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_an_answer_after_a_restart_resumes_the_waiting_session(
    tmp_path: Path, stop: signal.Signals, key: str
) -> None:
    db = tmp_path / "podium.db"
    env = server_env(secret=SECRET if key == "PODIUM_SECRET_KEY" else None)
    create_admin(db, env)
    server = LiveServer(db, env).start()
    try:
        token = login(server)
        app = server.call("POST", "/apps", {"name": "restarts"}, token)["id"]
        server.call("POST", f"/apps/{app}/flows", ask_flow(), token)
        session = server.call("POST", f"/apps/{app}/sessions", {"flow": "ask"}, token)
        wait_until_asked(server, token, app, session["run_id"])
        before = server.call("GET", f"/apps/{app}/sessions/{session['id']}", None, token)
        question = before["pending_question"]
        assert before["status"] == "waiting" and question["question"] == "What is your name?"

        status = server.stop(stop)
        if stop == signal.SIGTERM:  # a clean shutdown; uvicorn then re-raises the signal
            assert status in (0, -signal.SIGTERM), server.output()
            assert "Application shutdown complete" in server.output()
        else:
            assert status == -signal.SIGKILL
        server.start()

        # The token of the first process is still good (same key), the question still there.
        after = server.call("GET", f"/apps/{app}/sessions/{session['id']}", None, token)
        assert after["status"] == "waiting", after
        assert after["pending_question"]["interrupt_id"] == question["interrupt_id"]
        answer = {"interrupt_id": question["interrupt_id"], "answer": "Ada"}
        queued = server.call("POST", f"/apps/{app}/sessions/{session['id']}/input", answer, token)
        run = server.call(
            "GET", f"/apps/{app}/runs/{queued['run_id']}/wait?timeout=20", None, token
        )
        assert run["status"] == "succeeded", run
        done = server.call("GET", f"/apps/{app}/sessions/{session['id']}", None, token)
        assert done["status"] == "completed", done
        assert done["state"] == {"name": "Ada", "greeting": "Hello, Ada!"}
        assert done["pending_question"] is None
        # Answered once: the same answer again is refused.
        status_again, body = server.request(
            "POST", f"/apps/{app}/sessions/{session['id']}/input", answer, token
        )
        assert status_again == 409, body
    finally:
        if server.process is not None:
            server.stop()
    assert "Traceback" not in server.output(), server.output()


@pytest.mark.slow
def test_without_podium_secret_key_tokens_are_signed_with_the_key_in_the_database(
    tmp_path: Path,
) -> None:
    """The other side of the "kept in the database" variant: a server configured with another
    key refuses the token, so the variant above really depends on the stored key."""
    db = tmp_path / "podium.db"
    create_admin(db, server_env(secret=None))
    server = LiveServer(db, server_env(secret=None)).start()
    try:
        token = login(server)
        assert server.request("GET", "/auth/me", None, token)[0] == 200
    finally:
        server.stop()
    other = LiveServer(db, server_env(secret="another-key-that-is-long-enough-for-hs256!")).start()
    try:
        status, body = other.request("GET", "/auth/me", None, token)
    finally:
        other.stop()
    assert status == 401 and body["error"]["code"] == "unauthorized", body
