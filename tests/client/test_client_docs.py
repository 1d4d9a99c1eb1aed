"""The client's examples run as printed: the ```` ```python ```` blocks of docs/client.md and
of README.md's "## The Python client" section, each in its own Python process against a live
server, with the documented output (the ```` ```text ```` block after it) found in order in
what it prints (`…` stands for lines left out)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.api.live import PASSWORD, ROOT, LiveServer

DOCUMENTED_ORIGIN = "http://127.0.0.1:8000"


def examples(text: str) -> list[tuple[str, str | None]]:
    """The python blocks of `text`, each with the text block that follows it (or None)."""
    fences = re.findall(r"^```([^\n]*)\n(.*?)^```$", text, re.S | re.M)
    found: list[tuple[str, str | None]] = []
    for info, body in fences:
        if info.strip() == "python":
            found.append((body, None))
        elif info.strip() == "text" and found and found[-1][1] is None:
            found[-1] = (found[-1][0], body)
    return found


def section(text: str, heading: str) -> str:
    match = re.search(rf"^{re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"no {heading!r} section"
    return match.group(1)


def shows(expected: str, output: str) -> bool:
    """Every documented line (but `…`) is in a line of the output, in order."""
    lines = output.splitlines()
    at = 0
    for wanted in expected.splitlines():
        if wanted.strip() in ("", "…"):
            continue
        while at < len(lines) and wanted not in lines[at]:
            at += 1
        if at == len(lines):
            return False
        at += 1
    return True


DOCS = examples((ROOT / "docs" / "client.md").read_text())
README = examples(section((ROOT / "README.md").read_text(), "## The Python client"))


def test_the_pages_have_their_examples() -> None:
    assert len(DOCS) == 2 and all(output for _, output in DOCS)
    assert len(README) == 1 and README[0][1]
    assert shows("a\n…\nc", "a\nb\nc") and not shows("c\na", "a\nb\nc")


@pytest.mark.parametrize(
    "code, expected",
    [*DOCS, *README],
    ids=["docs-sync", "docs-async", "readme"],
)
def test_the_example_runs_as_printed(live: LiveServer, code: str, expected: str) -> None:
    env = {**os.environ, "PODIUM_SERVER": live.origin, "PODIUM_PASSWORD": PASSWORD}
    code = code.replace(DOCUMENTED_ORIGIN, live.origin)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(ROOT),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert shows(expected, done.stdout), f"documented:\n{expected}\nprinted:\n{done.stdout}"
