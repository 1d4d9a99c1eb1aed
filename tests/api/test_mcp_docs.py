"""docs/mcp-server.md's examples, replayed against a live `podium serve`: after the README's
Quickstart steps (an administrator, a login, an app, the `ask` flow), every ```sh block of
the page runs, in order, in one bash with the README's `pick` helper, and the ```text block
that follows a ```sh block must be what it printed (`…` stands for any text)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.api.live import ROOT, LiveServer, ask_flow, create_admin, login, server_env

DOC = ROOT / "docs" / "mcp-server.md"
README = ROOT / "README.md"
DOCUMENTED_ORIGIN = "http://127.0.0.1:8000"
MARK = "=== next block ==="


def examples(text: str) -> list[tuple[str, str | None]]:
    """Each ```sh block with the ```text block right after it (None when there is none)."""
    found = []
    pattern = r"^```sh\n(.*?)^```\n(?:\n```text\n(.*?)^```$)?"
    for command, output in re.findall(pattern, text, re.S | re.M):
        found.append((command, output or None))
    return found


def pick_helper() -> str:
    match = re.search(r"^pick\(\) \{.*?^\}$", README.read_text(), re.S | re.M)
    assert match, "README.md defines no pick() helper"
    return match.group(0)


def printed_as_documented(documented: str, printed: str) -> bool:
    pattern = ".*?".join(re.escape(part) for part in documented.strip().split("…"))
    return re.fullmatch(pattern, printed.strip(), re.S) is not None


def test_the_reader_finds_blocks_and_outputs() -> None:
    text = "```sh\necho a\n```\n\n```text\na\n```\n\n```sh\ntrue\n```\n"
    assert examples(text) == [("echo a\n", "a\n"), ("true\n", None)]
    assert printed_as_documented("id: ses_…!", "id: ses_01abc!")
    assert not printed_as_documented("id: ses_…!", "id: run_01abc!")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    db = tmp_path / "podium.db"
    env = server_env()
    create_admin(db, env)
    running = LiveServer(db, env).start()
    try:
        yield running
    finally:
        running.stop()


def test_the_pages_examples_run_as_printed(server: LiveServer, tmp_path: Path) -> None:
    blocks = examples(DOC.read_text())
    assert len(blocks) == 4, "the page's examples: a key, the client, a call by hand, a refusal"
    token = login(server)
    app_id = server.call("POST", "/apps", {"name": "mcp-docs"}, token)["id"]
    server.call("POST", f"/apps/{app_id}/flows", ask_flow(), token)

    script = ["set -euo pipefail", pick_helper()]
    for command, _ in blocks:
        script += [command.replace(DOCUMENTED_ORIGIN, server.origin), f"echo '{MARK}'"]
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=ROOT,
        env={**server.env, "TOKEN": token, "APP": app_id},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    printed = done.stdout.split(MARK + "\n")
    assert len(printed) == len(blocks) + 1, done.stdout
    for (command, documented), output in zip(blocks, printed, strict=False):
        if documented is not None:
            assert printed_as_documented(documented, output), (command, output)
