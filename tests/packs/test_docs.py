"""The packs' documentation runs as printed: each ```` ```sh ```` block of
docs/packs/appbuilder.md, docs/packs/leads.md, docs/packs/orchestrator.md and
docs/packs/storyflow.md runs, in order,
in one bash against a live server (the documented `http://127.0.0.1:8000` replaced by its
address), and what it prints must be the ```` ```text ```` block that follows it (`…` stands
for ids and other parts that differ from run to run). Blocks marked ```` ```sh stream ```` or
```` ```sh config ```` are shown, not run (a stream that never ends; credentials for a real
service)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

import pytest
from tests.api.live import ROOT
from tests.packs.conftest import Client

DOCUMENTED_ORIGIN = "http://127.0.0.1:8000"
FENCE = re.compile(r"^```(\S*)( \S+)?\n(.*?)^```$", re.S | re.M)
MARKER = "@@block@@"


@dataclass(frozen=True)
class Block:
    code: str
    expected: str | None  # the text block after it, if any


def runnable_blocks(markdown: str) -> list[Block]:
    fences = [(lang, (extra or "").strip(), body) for lang, extra, body in FENCE.findall(markdown)]
    blocks = []
    for index, (lang, extra, body) in enumerate(fences):
        if lang != "sh" or extra:
            continue
        following = fences[index + 1] if index + 1 < len(fences) else None
        expected = following[2] if following and following[0] == "text" else None
        blocks.append(Block(body, expected))
    return blocks


def matches(expected: str, printed: str) -> bool:
    def lines(text: str) -> list[str]:
        return [line.rstrip() for line in text.strip("\n").splitlines()]

    pattern = "\n".join(".*?".join(map(re.escape, line.split("…"))) for line in lines(expected))
    return re.fullmatch(pattern, "\n".join(lines(printed)), re.S) is not None


def run_document(client: Client, name: str) -> list[tuple[Block, str]]:
    blocks = runnable_blocks((ROOT / "docs" / "packs" / name).read_text())
    assert blocks, f"docs/packs/{name} has no sh block"
    script = "set -euo pipefail\n" + "".join(
        f"echo {MARKER}\n{block.code.replace(DOCUMENTED_ORIGIN, client.server.origin)}\n"
        for block in blocks
    )
    env = {"PATH": "/usr/bin:/bin", "TOKEN": client.token, "APP": client.app_id}
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
    printed = done.stdout.split(MARKER + "\n")[1:]
    assert len(printed) == len(blocks)
    return list(zip(blocks, printed, strict=True))


def test_the_comparison_allows_elisions_only_where_marked() -> None:
    assert matches("{'id': 'art_…', 'n': 1}", "{'id': 'art_01abc', 'n': 1}")
    assert not matches("{'id': 'art_…', 'n': 1}", "{'id': 'art_01abc', 'n': 2}")
    assert not matches("a\nb", "a")
    assert runnable_blocks("```sh\necho 1\n```\n\n```text\n1\n```\n```sh stream\nx\n```\n") == [
        Block("echo 1\n", "1\n")
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    "document", ["appbuilder.md", "leads.md", "orchestrator.md", "storyflow.md"]
)
def test_the_walk_through_prints_what_the_document_shows(client: Client, document: str) -> None:
    for block, printed in run_document(client, document):
        if block.expected is not None:
            assert matches(block.expected, printed), (
                f"docs/packs/{document}: this block\n{block.code}\nprinted\n{printed}\n"
                f"but the document shows\n{block.expected}"
            )
