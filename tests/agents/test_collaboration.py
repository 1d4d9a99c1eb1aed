"""What an agent is shown in a collaboration turn: the digest of the discussion (the last
turns, clipped, after a count of the earlier ones), the last messages to it and the shared
memory, clipped; in a message before the turn's own, whose size does not grow."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from podium.agents.collaboration import (
    FACT_CHARS,
    FACTS_SHOWN,
    MESSAGE_CHARS,
    MESSAGES_SHOWN,
    SHARED_PREFIX,
    TURN_CHARS,
    WINDOW_TURNS,
    _context,
    _prompt,
    clip,
    digest,
)
from podium.agents.messages import AgentMessageService
from podium.memory.service import MemoryService
from podium.storage.store import Store

FLOW = {"name": "f", "nodes": [{"id": "a", "type": "output"}], "edges": []}
NOTHING: dict[str, Any] = {"messages": [], "memory": {}}


def turns(count: int, text: str = "fine") -> list[dict[str, Any]]:
    agents = ["a", "b", "c"]
    return [{"turn": n, "agent": agents[n % 3], "text": text} for n in range(count)]


def test_clip_keeps_short_text_and_says_how_much_it_left_out() -> None:
    assert clip("short", 10) == "short"
    assert clip("x" * 12, 10) == "x" * 10 + " … (2 more characters)"
    # clipped before: the count is of the whole answer
    assert clip("x" * 12, 10, length=500) == "x" * 10 + " … (490 more characters)"


def test_a_short_discussion_is_shown_whole() -> None:
    assert digest(turns(2)) == "[a] fine\n[b] fine"
    assert digest([]) == ""


def test_a_long_discussion_shows_the_last_turns_clipped_after_a_count() -> None:
    shown = digest(turns(20, "y" * (TURN_CHARS + 5)))
    lines = shown.split("\n")
    assert lines[0] == f"({20 - WINDOW_TURNS} earlier turns are not shown: a 5, b 5, c 4)"
    assert len(lines) == 1 + WINDOW_TURNS
    assert lines[1] == f"[c] {'y' * TURN_CHARS} … (5 more characters)"
    assert lines[-1].startswith("[b] ")  # turn 19


def test_the_turn_message_is_the_same_size_however_long_the_discussion() -> None:
    first_history, first = _prompt("Build it", "a", ["a", "b"], 0, 40, [], NOTHING)
    assert first_history == []  # nothing said yet
    history, later = _prompt("Build it", "a", ["a", "b"], 38, 40, turns(38, "z" * 9999), NOTHING)
    assert len(later) == len(first) + 1  # "turn 39" instead of "turn 1"
    assert later.startswith("Task: Build it\n\nYou are a, working on this task with b.")
    assert [m.role for m in history] == ["user"]
    assert history[0].content.startswith("The discussion so far:\n(32 earlier turns")
    assert len(history[0].content) < WINDOW_TURNS * (TURN_CHARS + 40) + 100


async def test_the_context_shows_the_last_messages_and_some_facts_clipped(store: Store) -> None:
    app_id = await store.ensure_app("a")
    flow = await store.save_flow(app_id, FLOW)
    _, run_id = await store.start_session(app_id, flow.id, {})
    messages, memory = AgentMessageService(store), MemoryService(store)
    for n in range(MESSAGES_SHOWN + 5):
        await messages.send(app_id, run_id, "b", "request", f"{n}:" + "m" * 60_000, sender="a")
    await messages.send(app_id, run_id, "b", "notification", "a heads-up", sender="a")
    await messages.send(app_id, run_id, "a", "request", "for someone else", sender="b")
    for n in range(FACTS_SHOWN + 3):
        await memory.set(app_id, "run", run_id, f"{SHARED_PREFIX}fact{n:02}", "f" * 60_000)
    ctx = SimpleNamespace(app_id=app_id, run_id=run_id)

    context = await _context(messages, memory, ctx, "b")  # type: ignore[arg-type]

    shown = context["messages"]
    assert context["earlier_messages"] == 5
    assert [m["content"].split(":")[0] for m in shown] == [f'"{n}' for n in range(5, 15)]
    assert all(len(m["content"]) <= MESSAGE_CHARS + 40 for m in shown)
    assert len(context["memory"]) == FACTS_SHOWN and context["more_facts"] == 3
    assert all(len(value) <= FACT_CHARS + 40 for value in context["memory"].values())
    history, _ = _prompt("Build it", "b", ["a", "b"], 1, 4, turns(1), context)
    text = history[0].content
    assert "(5 earlier messages are not shown)" in text
    assert "(3 more facts are not shown)" in text
    assert "a heads-up" not in text and "for someone else" not in text
    assert len(text) < 2 * (MESSAGES_SHOWN * MESSAGE_CHARS + FACTS_SHOWN * FACT_CHARS)
