"""The prompt library: versioned templates kept as files of the pack
(`prompts/<name>/v<N>.txt`), rendered with the engine's sandboxed templating under the
template budget (docs/security.md, "Templates"); persona blocks from stored characters and
scene blocks from `prompts/scene_blocks.json`.

The templates use only variables and `if`, so they render in the server's process (the
cheap path of `podium.engine.templating`); the state a node reads is never a template.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from podium.engine.nodes.template import TemplateBudget, render_async

PROMPTS = Path(__file__).parent / "prompts"
VERSION_PATTERN = r"^v[0-9]{1,4}$"
_VERSION_FILE = re.compile(r"^(v[0-9]{1,4})\.txt$")


@functools.cache
def versions(name: str) -> tuple[str, ...]:
    """The versions of a prompt, oldest first (`("v1", "v2")`)."""
    folder = PROMPTS / name
    if not folder.is_dir():
        return ()
    found = [m.group(1) for p in folder.iterdir() if (m := _VERSION_FILE.match(p.name))]
    return tuple(sorted(found, key=lambda v: int(v[1:])))


def version_problem(name: str, version: str) -> str | None:
    """Why `name` at `version` cannot be used (None when it can)."""
    known = versions(name)
    if version in known:
        return None
    return f"there is no prompt {name}/{version}; the versions are {', '.join(known) or 'none'}"


@functools.cache
def source(name: str, version: str) -> str:
    """The template text of a prompt version (ValueError when there is none)."""
    problem = version_problem(name, version)
    if problem is not None:
        raise ValueError(problem)
    return (PROMPTS / name / f"{version}.txt").read_text(encoding="utf-8")


async def render(name: str, version: str, values: dict[str, Any], budget: TemplateBudget) -> str:
    """The prompt `name/version` over `values`, within the template budget."""
    return (await render_async(source(name, version), values, budget)).strip()


@functools.cache
def scene_blocks() -> dict[str, dict[str, str]]:
    """The scene prompt blocks: kind (`genre`, `mood`, `time_of_day`, `weather`) → key →
    sentence."""
    blocks: dict[str, dict[str, str]] = json.loads(
        (PROMPTS / "scene_blocks.json").read_text(encoding="utf-8")
    )
    return blocks


CHARACTER_FIELDS = ("name", "description", "personality", "appearance", "voice")


async def persona_block(characters: list[dict[str, Any]], budget: TemplateBudget) -> str:
    """The characters a text must keep consistent, one line each (persona/v1), under a
    heading; "" when there are none."""
    if not characters:
        return ""
    lines = []
    for character in characters:
        values = {key: character.get(key) or "" for key in CHARACTER_FIELDS}
        lines.append(await render("persona", "v1", values, budget))
    return "Characters (keep each one consistent):\n" + "\n".join(lines)


async def scene_block(scene: dict[str, Any], budget: TemplateBudget) -> str:
    """A scene's prompt block (scene/v1): its location, the chosen blocks, its details and
    who is present."""
    chosen = [
        scene_blocks()[kind][scene[kind]]
        for kind in ("genre", "mood", "time_of_day", "weather")
        if scene.get(kind)
    ]
    values = {
        "location": scene.get("location") or "",
        "blocks": " ".join(chosen),
        "details": scene.get("details") or "",
        "cast": ", ".join(scene.get("cast") or []),
    }
    return await render("scene", "v1", values, budget)
