"""Node functions for the example flows, named `example_nodes:function` in the flow files.

The engine imports them from the flow file's directory, so the examples run from anywhere.
Each one is `async def name(ctx) -> dict`: it reads `ctx.state` and returns what to merge
into the state.
"""

from __future__ import annotations

from typing import Any

from podium import Context

VOWELS = set("aeiouAEIOU")


async def normalize(ctx: Context) -> dict[str, Any]:
    """Collapses whitespace and lower-cases `text`."""
    text = str(ctx.state.get("text", ""))
    return {"text": " ".join(text.split()).lower()}


async def count_words(ctx: Context) -> dict[str, Any]:
    """Counts the words of `text`."""
    return {"words": len(str(ctx.state.get("text", "")).split())}


async def plan(ctx: Context) -> dict[str, Any]:
    """Splits `text` into words for the three analysts that run in parallel after it."""
    return {"tokens": str(ctx.state.get("text", "")).split(), "findings": []}


async def count_vowels(ctx: Context) -> dict[str, Any]:
    vowels = sum(1 for char in "".join(ctx.state["tokens"]) if char in VOWELS)
    return {"findings": [{"analyst": ctx.node_id, "vowels": vowels}]}


async def find_longest(ctx: Context) -> dict[str, Any]:
    longest = max(ctx.state["tokens"], key=len, default="")
    return {"findings": [{"analyst": ctx.node_id, "longest": longest}]}


async def count_unique(ctx: Context) -> dict[str, Any]:
    unique = len({token.lower() for token in ctx.state["tokens"]})
    return {"findings": [{"analyst": ctx.node_id, "unique": unique}]}


async def combine(ctx: Context) -> dict[str, Any]:
    """The join: runs once all three analysts are done, and merges their findings."""
    report: dict[str, Any] = {}
    for finding in ctx.state["findings"]:
        report.update({key: value for key, value in finding.items() if key != "analyst"})
    return {"report": report}


async def draft(ctx: Context) -> dict[str, Any]:
    """Writes one more draft; each pass improves `quality` by one."""
    quality = int(ctx.state.get("quality", 0)) + 1
    text = f"{ctx.state.get('topic', 'untitled')} (draft {quality})"
    return {"quality": quality, "drafts": [text]}


async def review(ctx: Context) -> dict[str, Any]:
    """Reviews the latest draft; the loop edge sends it back while quality is too low."""
    return {"approved": int(ctx.state["quality"]) >= int(ctx.state.get("target", 3))}
