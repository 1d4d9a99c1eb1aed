"""A tool for the crash test, loaded by a server through PODIUM_TOOL_MODULES: every execution
appends a line to the file named by CRASH_TOOL_LOG, so the test counts executions across
processes."""

from __future__ import annotations

import os

from podium.tools.base import tool


@tool
async def crash_count(n: int) -> dict[str, int]:
    """Count an execution.

    Args:
        n: A number, returned doubled.
    """
    with open(os.environ["CRASH_TOOL_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{os.getpid()} {n}\n")
    return {"doubled": n * 2}
