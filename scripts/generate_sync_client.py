#!/usr/bin/env python3
"""Write src/podium/client/sync.py (`Client`) from src/podium/client/aio.py (`AsyncClient`).

The two clients are the same code but for `async`/`await`: the async one is written by hand
and this script derives the other by rewriting words, as httpcore's `unasync` does.
`tests/client/test_sync_generated.py` fails when sync.py is not what this script writes.
Run: `.venv/bin/python scripts/generate_sync_client.py`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

CLIENT = Path(__file__).resolve().parents[1] / "src" / "podium" / "client"
HEADER = '''"""`Client`: the whole public HTTP API of a Podium server, for synchronous code.

Generated from `podium/client/aio.py` (`AsyncClient`) by `scripts/generate_sync_client.py`:
do not edit; edit aio.py and run the script.
"""
'''
# Whole words (or exact fragments) rewritten, in this order.
WORDS = [
    (r"async def ", "def "),
    (r"async for ", "for "),
    (r"async with ", "with "),
    (r"await ", ""),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\bAsyncBaseTransport\b", "BaseTransport"),
    (r"\bAsyncClient\b", "Client"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\baclose\b", "close"),
    (r"\baread\b", "read"),
    (r"\baiter_lines\b", "iter_lines"),
    (r"\basyncio\.sleep\b", "time.sleep"),
    (r"\basyncio\.Lock\b", "threading.Lock"),
    (r"^import asyncio\n", "import threading\n"),
]


def generate(source: str) -> str:
    body = source.split('"""', 2)[2].lstrip("\n")  # the module's docstring is replaced
    for pattern, replacement in WORDS:
        body = re.sub(pattern, replacement, body, flags=re.M)
    # What the rewriting unsorts or makes plainer, put as ruff wants it.
    body = body.replace("import threading\nimport json\n", "import json\nimport threading\n")
    body = body.replace("Iterator, Callable, Iterable", "Callable, Iterable, Iterator")
    # A loop whose only statement yields its item (ruff's UP028 in sync code):
    loop = r"^( *)for (\w+) in (.+):\n\1 +yield \2\n(?!\1 )"
    body = re.sub(loop, r"\1yield from \3\n", body, flags=re.M)
    return HEADER + "\n" + body


def render(source: str) -> str:
    """The generated module as `ruff format` lays it out."""
    ruff = Path(sys.executable).parent / "ruff"
    formatted = subprocess.run(
        [str(ruff), "format", "--stdin-filename", "sync.py", "-"],
        input=generate(source),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return formatted.stdout


def main() -> int:
    target = CLIENT / "sync.py"
    target.write_text(render((CLIENT / "aio.py").read_text()))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
