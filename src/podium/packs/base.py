"""What a pack is made of (docs/packs.md): `Pack`, `@subscribe`, and the contexts its seed
and its event handlers receive.

A pack uses the public surface of the services, as a user's own pack would (DESIGN §9):
nothing below `podium.packs` knows a pack by name.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podium.errors import InvalidInput
from podium.events.envelope import Event

if TYPE_CHECKING:
    from fastapi import APIRouter

    from podium.config import Settings
    from podium.engine.flow import Flow
    from podium.engine.node_types import NodeType
    from podium.storage.store import Store
    from podium.tools.base import Tool

PACK_NAME_PATTERN = r"[a-z][a-z0-9_]{0,31}"
# An event type a handler subscribes to: `domain.action`, or `*` for every event.
EVENT_TYPE_PATTERN = r"\*|[a-z][a-z0-9_]*(\.[a-z0-9_*]+)+"

Handler = Callable[[Event, "HandlerContext"], Awaitable[None]]
Seed = Callable[["PackContext"], Awaitable[None]]
# A WebSocket message type a pack answers (`<pack>.<action>`): called with the socket's
# request (`PackSocketRequest`), returns the reply `(type, data)` or None.
SocketHandler = Callable[["PackSocketRequest"], Awaitable[tuple[str, Any] | None]]
Credentials = Callable[[str], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True, slots=True)
class Subscription:
    """What `@subscribe` attaches to a handler: the event types it runs for."""

    event_types: tuple[str, ...]
    name: str


def subscribe(*event_types: str, name: str | None = None) -> Callable[[Handler], Handler]:
    """Make `async def handler(event, ctx)` run, durably, for every event of these types
    (`lead.submitted`; `lead.*` for a domain) in each app that enabled the pack.

    `name` (default: the function's name) keys the handler's cursor: keep it stable, or the
    renamed handler starts again from the events that come after it is deployed.
    """
    if not event_types:
        raise InvalidInput('@subscribe needs an event type, e.g. @subscribe("lead.submitted")')
    for event_type in event_types:
        if not re.fullmatch(EVENT_TYPE_PATTERN, event_type):
            raise InvalidInput(
                f"@subscribe({event_type!r}): an event type is domain.action in lower case "
                "(`lead.submitted`), `domain.*` or `*`"
            )

    def mark(handler: Handler) -> Handler:
        handler_name = name or handler.__name__
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", handler_name):
            raise InvalidInput(f"handler name {handler_name!r}: use letters, digits and _")
        handler.__podium_subscription__ = Subscription(  # type: ignore[attr-defined]
            tuple(event_types), handler_name
        )
        return handler

    return mark


def subscription_of(handler: Handler) -> Subscription:
    found = getattr(handler, "__podium_subscription__", None)
    if not isinstance(found, Subscription):
        name = getattr(handler, "__name__", repr(handler))
        raise InvalidInput(
            f"handler {name} is not decorated with @subscribe(event_type); decorate it, e.g. "
            '@subscribe("lead.submitted")'
        )
    return found


def matches(event_types: Sequence[str], event_type: str) -> bool:
    """Whether an event of `event_type` is one of `event_types` (`*` and `domain.*` match)."""
    for wanted in event_types:
        if wanted == "*" or wanted == event_type:
            return True
        if wanted.endswith(".*") and event_type.startswith(wanted[:-1]):
            return True
    return False


@dataclass(eq=False)
class Pack:
    """A bundle of flows, agents, node types, tools, routes, tables, gates and event handlers
    shipped together (DESIGN §1). A pack module defines one as the module-level `pack`."""

    name: str
    description: str = ""
    flows_dir: Path | None = None
    flows: list[Flow] = field(default_factory=list)
    agents: list[dict[str, Any]] = field(default_factory=list)
    node_types: list[type[NodeType]] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    router: APIRouter | None = None
    migrations: Path | None = None
    workflow_graph: Path | None = None
    seed: Seed | None = None
    handlers: list[Handler] = field(default_factory=list)
    # Mount `router` at /apps/{app_id}/<name> instead of /apps/{app_id}/packs/<name> (for a
    # pack whose routes mirror an existing API, e.g. the orchestrator's). Refused when the
    # server starts if a core route already uses that segment.
    mount_at_app_root: bool = False
    # WebSocket message types the pack answers, `<name>.<action>` → handler; the socket
    # checks the caller is a member of the message's `app_id` and the app enabled the pack.
    socket_handlers: dict[str, SocketHandler] = field(default_factory=dict)
    # Filled by the loader: where the pack came from (`entry point leads`, a module, a path).
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not re.fullmatch(PACK_NAME_PATTERN, self.name):
            raise InvalidInput(
                f"pack name {self.name!r}: 1 to 32 lower-case letters, digits and _, starting "
                "with a letter (it prefixes the pack's routes, tables and revisions)"
            )
        names = [subscription_of(handler).name for handler in self.handlers]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InvalidInput(
                f"pack {self.name!r} has two handlers named {twice}; give one "
                "@subscribe(..., name='other_name')"
            )
        for kind in self.socket_handlers:
            if not re.fullmatch(rf"{self.name}\.[a-z][a-z0-9_.]*", kind):
                raise InvalidInput(
                    f"pack {self.name!r}: WebSocket message type {kind!r} must be the pack's "
                    f"name, a dot and an action, e.g. {self.name}.start"
                )

    @property
    def route_prefix(self) -> str:
        if self.mount_at_app_root:
            return f"/apps/{{app_id}}/{self.name}"
        return f"/apps/{{app_id}}/packs/{self.name}"


class PackSocketRequest:
    """A WebSocket message a pack answers: who sent it (`principal`), for which app, its
    `data`, the API's services, and how to send more messages on the socket (`send`) or
    stream them from a background task that ends with the socket (`start_stream`)."""

    def __init__(
        self,
        app_id: str,
        data: dict[str, Any],
        principal: Any,
        services: Any,
        send: Callable[..., Awaitable[None]],
        start_stream: Callable[[Callable[[str], Awaitable[None]]], str],
    ) -> None:
        self.app_id = app_id
        self.data = data
        self.principal = principal
        # `podium.api.deps.Services`: what the routes call (sessions, agents, podium, …).
        self.services = services
        self._send = send
        self._start_stream = start_stream

    async def send(self, kind: str, data: Any, **extra: Any) -> None:
        """Send a `{type, data}` message on the socket now."""
        await self._send(kind, data, **extra)

    def start_stream(self, stream: Callable[[str], Awaitable[None]]) -> str:
        """Run `stream(subscription_id)` in the background (cancelled when the socket
        closes, or by `unsubscribe`); returns the subscription id."""
        return self._start_stream(stream)


class PackContext:
    """What a pack's `seed` (and its handlers, as `HandlerContext`) may use: the app, the
    store, the settings, the runtime's services, `emit` and `credentials`."""

    def __init__(
        self,
        app_id: str,
        store: Store,
        settings: Settings,
        services: Any,
        credentials: Credentials,
        pack: str,
    ) -> None:
        self.app_id = app_id
        self.store = store
        self.settings = settings
        # `podium.packs.services.PackServices`: sessions, agents, artifacts, memory, …
        self.services = services
        self.pack = pack
        self._credentials = credentials

    async def emit(
        self, type: str, data: dict[str, Any] | None = None, *, session_id: str | None = None
    ) -> int:
        """Append an event to the app's durable log now; its `seq`. The data passes the JSON
        boundary and `PODIUM_MAX_EVENT_BYTES`, as a node's `ctx.emit` does."""
        from podium import jsonvalue
        from podium.errors import LimitExceeded
        from podium.storage.script import dumps

        payload = data or {}
        jsonvalue.check_value(payload, f"event {type!r} data")
        size, cap = len(dumps(payload).encode()), self.settings.max_event_bytes
        if size > cap:
            raise LimitExceeded(
                f"event {type!r} data is {size} bytes, over the cap of {cap} "
                "(PODIUM_MAX_EVENT_BYTES); send a smaller event, e.g. an id to read the data by",
                details={"setting": "PODIUM_MAX_EVENT_BYTES", "cap": cap, "bytes": size},
            )
        [event] = await self.store.append_events(
            self.app_id, [Event(type, self.app_id, session_id, None, payload)]
        )
        assert event.seq is not None
        return event.seq

    async def credentials(self, service: str) -> dict[str, Any] | None:
        """The app's integration settings for `service` (`hubspot`, `sendgrid`,
        `google_calendar`), else the server's; None when neither is configured."""
        return await self._credentials(service)


class HandlerContext(PackContext):
    """What a handler receives with its event: a `PackContext` plus which run of it this is.

    `event_id` is the idempotency key: a handler may run again for the same event (after a
    crash before its success was recorded), so an effect outside Podium should carry it."""

    def __init__(self, base: PackContext, event: Event, handler: str, attempt: int) -> None:
        super().__init__(
            base.app_id, base.store, base.settings, base.services, base._credentials, base.pack
        )
        self.event_id = event.id
        self.seq = event.seq
        self.handler = handler
        self.attempt = attempt
