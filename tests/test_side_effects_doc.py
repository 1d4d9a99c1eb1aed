"""docs/side-effects.md runs as printed: each ```` ```python ```` block runs as a script of
its own (in an empty directory, with this interpreter) and prints the ```` ```text ````
block that follows it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "side-effects.md"
EXAMPLE = re.compile(r"```python\n(.*?)```\s*\nprints\s*\n\s*```text\n(.*?)```", re.DOTALL)


def examples() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in EXAMPLE.finditer(DOCUMENT.read_text())]


def test_every_python_block_has_its_output() -> None:
    assert len(examples()) == DOCUMENT.read_text().count("```python") == 2


@pytest.mark.parametrize("index", range(2))
def test_the_example_prints_what_the_document_shows(index: int, tmp_path: Path) -> None:
    code, expected = examples()[index]
    script = tmp_path / "example.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected, f"docs/side-effects.md example {index} printed\n{done.stdout}"
