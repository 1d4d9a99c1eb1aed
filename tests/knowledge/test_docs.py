"""docs/knowledge.md runs as printed: its ```` ```sh ```` blocks run in order, in one bash,
against a live `podium serve` with nothing configured (full text only), and each prints the
```` ```text ```` block that follows it (`…` stands for times). Blocks marked
```` ```sh config ```` are shown, not run (they need a model server)."""

from __future__ import annotations

import subprocess

import pytest
from tests.api.live import ROOT
from tests.packs.conftest import Client, client, live, pack_env  # noqa: F401  (fixtures)
from tests.packs.test_docs import DOCUMENTED_ORIGIN, MARKER, matches, runnable_blocks

DOCUMENT = ROOT / "docs" / "knowledge.md"


def test_the_document_has_examples_with_their_output() -> None:
    blocks = runnable_blocks(DOCUMENT.read_text())
    assert len(blocks) >= 5 and all(block.expected is not None for block in blocks)


@pytest.mark.slow
def test_the_walk_through_prints_what_the_document_shows(client: Client) -> None:  # noqa: F811
    blocks = runnable_blocks(DOCUMENT.read_text())
    script = "set -euo pipefail\n" + "".join(
        f"echo {MARKER}\n{block.code.replace(DOCUMENTED_ORIGIN, client.server.origin)}\n"
        for block in blocks
    )
    env = {"PATH": "/usr/bin:/bin", "TOKEN": client.token, "APP": client.app_id}
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 0, f"docs/knowledge.md failed:\n{done.stdout}\n{done.stderr}"
    printed = done.stdout.split(MARKER + "\n")[1:]
    assert len(printed) == len(blocks)
    for block, output in zip(blocks, printed, strict=True):
        assert block.expected is not None
        assert matches(block.expected, output), (
            f"docs/knowledge.md: this block\n{block.code}\nprinted\n{output}\n"
            f"but the document shows\n{block.expected}"
        )
