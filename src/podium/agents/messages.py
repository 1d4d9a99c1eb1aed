"""Agent messages: what one agent of a run sends another (DESIGN: Agent message).

A message is `request`, `response`, `notification` or `handoff`, from an agent (or nobody
named) to an agent, with JSON content. Each is stored and streamed as an `agent.message`
event `{id, from, to, type, content}` of its run. A `handoff` passes control to the agent it
names: a collaborative flow reads the run's `latest_handoff` to know who goes next.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from podium.errors import InvalidInput
from podium.memory.service import encodable, storable_json
from podium.storage import agent_messages as tx
from podium.storage.agent_messages import AgentMessageRecord, MessageFilter
from podium.storage.store import Store

if TYPE_CHECKING:
    from podium.engine.context import Context

MESSAGE_TYPES = ("request", "response", "notification", "handoff")
# An agent name, a node id, `user`…: anything short without control characters.
AGENT_PATTERN = r"^[^\x00-\x1f\x7f]{1,64}$"
MAX_CONTENT_BYTES = 65_536
MAX_LIST_LIMIT = 500


def check_type(type: str) -> None:
    if type not in MESSAGE_TYPES:
        raise InvalidInput(
            f"unknown agent message type {type!r}; the types are {', '.join(MESSAGE_TYPES)}",
            details={"types": list(MESSAGE_TYPES)},
        )


def check_agent(what: str, name: str) -> None:
    if not isinstance(name, str) or not re.fullmatch(AGENT_PATTERN, name) or not encodable(name):
        raise InvalidInput(
            f"{what} {name!r} is not an agent name: 1 to 64 characters, none of them a "
            "control character"
        )


class AgentMessageService:
    """Send and list the agent messages of a run (every call names the app)."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        max_content_bytes: int = MAX_CONTENT_BYTES,
    ) -> None:
        self.store = store
        self.clock = clock
        self.max_content_bytes = max_content_bytes

    async def send(
        self,
        app_id: str,
        run_id: str,
        to: str,
        type: str,
        content: Any,
        *,
        sender: str | None = None,
    ) -> AgentMessageRecord:
        """Store the message and stream its `agent.message` event; NotFound for a run of
        another app."""
        check_type(type)
        check_agent("to", to)
        if sender is not None:
            check_agent("from", sender)
        storable_json(f"the {type} message's content", content, self.max_content_bytes)
        now = self.clock()
        record, events = await self.store.run_script(
            lambda: tx.send_message(app_id, run_id, sender, to, type, content, now)
        )
        self.store._published(events)
        return record  # type: ignore[no-any-return]

    async def messages(
        self,
        app_id: str,
        run_id: str,
        *,
        agent: str | None = None,
        type: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> list[AgentMessageRecord]:
        """The run's messages, oldest first; `agent` keeps those sent by or to it."""
        if type is not None:
            check_type(type)
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidInput(f"limit is from 1 to {MAX_LIST_LIMIT}, not {limit}")
        filters = MessageFilter(agent=agent, type=type)
        records: list[AgentMessageRecord] = await self.store.run_read(
            lambda: tx.list_messages(app_id, run_id, filters, limit, cursor)
        )
        return records

    async def latest_handoff(self, app_id: str, run_id: str) -> AgentMessageRecord | None:
        """The run's last `handoff` (its `recipient` has control), or None."""
        record: AgentMessageRecord | None = await self.store.run_read(
            lambda: tx.latest_message(app_id, run_id, "handoff")
        )
        return record


class NodeAgentMessages:
    """What `ctx.send_agent_message` calls (`podium.types.NodeAgentMessages`): a message in
    this run, recorded once."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._service = AgentMessageService(ctx.store)

    async def send(
        self, to: str, type: str, content: Any, *, sender: str | None = None
    ) -> dict[str, Any]:
        """Send; `sender` defaults to the node's id. Returns the message as JSON."""
        ctx = self._ctx

        async def deliver() -> dict[str, Any]:
            record = await self._service.send(
                ctx.app_id, ctx.run_id, to, type, content, sender=sender or ctx.node_id[:64]
            )
            return record.to_json()

        message: dict[str, Any] = await ctx.step(f"agent_message:{to}", deliver)
        return message
