"""docs/retention.md runs as printed. Its ```` ```sh config ```` block is the server's
configuration (the test server is started with exactly those settings); its
```` ```sh http ```` blocks run in one bash against that server, with `$APP` an app and
`$TOKEN` its admin's token; its plain ```` ```sh ```` blocks run in one bash in an empty
directory. Each block prints the ```` ```text ```` block that follows it (`…` stands for ids,
sizes and padding)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from tests.api.conftest import api_settings
from tests.api.threaded_server import threaded_server
from tests.packs.test_docs import DOCUMENTED_ORIGIN, FENCE, MARKER, Block, matches

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "docs" / "retention.md"
PATH = f"{Path(sys.executable).parent}:/usr/bin:/bin"


def blocks(tag: str) -> list[Block]:
    """The document's ```` ```sh <tag> ```` blocks, each with the text block after it."""
    fences = [
        (lang, (extra or "").strip(), body)
        for lang, extra, body in FENCE.findall(DOCUMENT.read_text())
    ]
    found = []
    for index, (lang, extra, body) in enumerate(fences):
        if lang == "sh" and extra == tag:
            following = fences[index + 1] if index + 1 < len(fences) else None
            expected = following[2] if following and following[0] == "text" else None
            found.append(Block(body, expected))
    return found


def configuration() -> dict[str, str]:
    """The `export NAME=value` lines of the config block."""
    [block] = blocks("config")
    settings = {}
    for line in block.code.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == "export":
            name, _, value = words[1].partition("=")
            settings[name] = value
    return settings


def replay(runnable: list[Block], env: dict[str, str], cwd: Path, origin: str = "") -> None:
    script = "set -euo pipefail\n" + "".join(
        f"echo {MARKER}\n{block.code.replace(DOCUMENTED_ORIGIN, origin or DOCUMENTED_ORIGIN)}\n"
        for block in runnable
    )
    done = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        env={"PATH": PATH, **env},
        cwd=cwd,
        timeout=200,
        check=False,
    )
    assert done.returncode == 0, f"docs/retention.md failed:\n{done.stdout}\n{done.stderr}"
    printed = done.stdout.split(MARKER + "\n")[1:]
    assert len(printed) == len(runnable)
    for block, output in zip(runnable, printed, strict=True):
        assert block.expected is not None, f"no text block after\n{block.code}"
        assert matches(block.expected, output), (
            f"docs/retention.md: this block\n{block.code}\nprinted\n{output}\n"
            f"but the document shows\n{block.expected}"
        )


def test_the_document_has_examples_with_their_output() -> None:
    assert len(blocks("http")) >= 4 and len(blocks("")) >= 3
    assert all(block.expected is not None for block in blocks("http") + blocks(""))
    assert set(configuration()) >= {"PODIUM_RETENTION", "PODIUM_RETENTION_MAX_DAYS"}


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_the_route_examples_print_what_the_document_shows(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in configuration().items():
        monkeypatch.setenv(name, value)  # the server runs with the documented configuration
    with threaded_server(api_settings(database_url)) as server:
        admin = server.login("root", admin=True)
        app_id = admin.create_app("retained")
        env = {"TOKEN": admin.access_token, "APP": app_id, "PODIUM_DATABASE_URL": database_url}
        replay(blocks("http"), env, tmp_path, origin=server.url)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_the_command_line_examples_print_what_the_document_shows(tmp_path: Path) -> None:
    replay(blocks(""), {}, tmp_path)
