"""docs/observability.md runs as printed: its ```` ```python ```` block (the span tree of an
agent that calls a tool) and its ```` ```sh ```` block (a JSON log line of `podium worker`)
each print the ```` ```text ```` block that follows (`…` stands for ids and times). Blocks
marked ```` ```sh config ```` are shown, not run (they need a collector or a package)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.api.live import BIN, ROOT
from tests.packs.test_docs import FENCE, matches

DOCUMENT = ROOT / "docs" / "observability.md"


def examples() -> list[tuple[str, str, str]]:
    """(language, code, the text it prints) of each runnable block."""
    fences = [
        (lang, (extra or "").strip(), body)
        for lang, extra, body in FENCE.findall(DOCUMENT.read_text())
    ]
    found = []
    for index, (lang, extra, body) in enumerate(fences):
        if lang in ("python", "sh") and not extra:
            following = fences[index + 1]
            assert following[0] == "text", f"a {lang} block of {DOCUMENT.name} shows no output"
            found.append((lang, body, following[2]))
    return found


def test_the_document_has_its_examples_and_every_setting() -> None:
    assert [lang for lang, _, _ in examples()] == ["python", "sh"]
    text = DOCUMENT.read_text()
    settings = re.findall(
        r"^    (otel_\w+|log_\w+): ", (ROOT / "src/podium/config.py").read_text(), re.M
    )
    assert sorted(settings) == [
        "log_format",
        "log_level",
        "otel_enabled",
        "otel_endpoint",
        "otel_service_name",
    ]
    for name in settings:
        assert f"`PODIUM_{name.upper()}`" in text


@pytest.mark.parametrize("index", [0, 1], ids=["span tree", "json log"])
def test_the_example_prints_what_the_document_shows(index: int, tmp_path: Path) -> None:
    lang, code, expected = examples()[index]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PODIUM_", "OTEL_"))}
    env["PATH"] = f"{BIN}:/usr/bin:/bin"
    command = (
        [sys.executable, "-c", code]
        if lang == "python"
        else ["bash", "-euo", "pipefail", "-c", code]
    )
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=90, check=False
    )
    assert done.returncode == 0, f"{DOCUMENT.name}:\n{code}\nfailed:\n{done.stdout}\n{done.stderr}"
    assert matches(expected, done.stdout), (
        f"{DOCUMENT.name}: this block\n{code}\nprinted\n{done.stdout}\nbut the document shows\n"
        f"{expected}"
    )
