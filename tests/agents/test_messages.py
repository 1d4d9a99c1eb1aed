"""The agent message service: what it refuses and how it says so, the latest handoff."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from podium.agents.messages import AgentMessageService
from podium.errors import InvalidInput, JSONValueInvalid, NotFound, PayloadTooLarge
from podium.storage.store import Store, open_store
from podium.storage.urls import sqlite_url

FLOW = {"name": "f", "nodes": [{"id": "a", "type": "output"}], "edges": []}


@pytest.fixture
def unopened(tmp_path: Path) -> AgentMessageService:
    """A service whose store is never opened: for what is refused before any query."""
    return AgentMessageService(open_store(sqlite_url(tmp_path / "never.db")), max_content_bytes=100)


@pytest.mark.parametrize(
    ("to", "type", "content", "sender", "error", "message"),
    [
        (
            "b",
            "shout",
            1,
            None,
            InvalidInput,
            "unknown agent message type 'shout'; the types are "
            "request, response, notification, handoff",
        ),
        ("", "request", 1, None, InvalidInput, "to '' is not an agent name"),
        ("b" * 65, "request", 1, None, InvalidInput, "is not an agent name: 1 to 64"),
        ("b", "request", 1, "a\nb", InvalidInput, "from 'a\\\\nb' is not an agent name"),
        (
            "b",
            "request",
            {1, 2},
            None,
            JSONValueInvalid,
            "the request message's content: a value of type set is not JSON",
        ),
        (
            "b",
            "request",
            {"a": [{"b": "x\x00"}]},
            None,
            JSONValueInvalid,
            r"content at \$\.a\[0\]\.b: a string holds a NUL character",
        ),
        ("b", "request", "x" * 200, None, PayloadTooLarge, "over the limit of 100"),
    ],
)
async def test_a_message_that_cannot_be_sent_is_refused_with_the_reason(
    unopened: AgentMessageService,
    to: str,
    type: str,
    content: Any,
    sender: str | None,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        await unopened.send("app_x", "run_x", to, type, content, sender=sender)


async def test_a_bad_list_filter_is_refused(unopened: AgentMessageService) -> None:
    with pytest.raises(InvalidInput, match="the types are request, response"):
        await unopened.messages("app_x", "run_x", type="yell")
    with pytest.raises(InvalidInput, match="limit is from 1 to 500"):
        await unopened.messages("app_x", "run_x", limit=0)


async def test_the_latest_handoff_names_who_has_control(store: Store) -> None:
    app_id = await store.ensure_app("a")
    flow = await store.save_flow(app_id, FLOW)
    _, run_id = await store.start_session(app_id, flow.id, {})
    service = AgentMessageService(store)
    assert await service.latest_handoff(app_id, run_id) is None
    await service.send(app_id, run_id, "writer", "handoff", None, sender="planner")
    await service.send(app_id, run_id, "planner", "request", "draft?", sender="writer")
    await service.send(app_id, run_id, "editor", "handoff", {"why": "done"}, sender="writer")
    await service.send(app_id, run_id, "planner", "notification", "fyi", sender="editor")
    latest = await service.latest_handoff(app_id, run_id)
    assert latest is not None
    assert (latest.sender, latest.recipient, latest.content) == (
        "writer",
        "editor",
        {"why": "done"},
    )
    other = await store.ensure_app("b")
    with pytest.raises(NotFound):
        await service.latest_handoff(other, run_id)
