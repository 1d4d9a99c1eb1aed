"""A bound on request bodies: larger ones are answered 413 before they are read whole."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium.api.errors import envelope


@dataclass(frozen=True, slots=True)
class BodyLimit:
    """A bound on the bodies of some paths (another than the server's), e.g. batches of
    knowledge documents: the bound, the setting that sets it, and what to do instead."""

    path: re.Pattern[str]
    max_bytes: int
    setting: str
    hint: str = ""


class BodyTooLarge(HTTPException):
    """Raised while a body streams in past the limit. An HTTPException, because FastAPI turns
    any other exception raised while it reads a body into a 400 "error parsing the body"."""

    def __init__(self, max_bytes: int, setting: str | None = None) -> None:
        super().__init__(413, _message(max_bytes, setting or "PODIUM_MAX_BODY_BYTES"))
        self.details = {"max_bytes": max_bytes}


def _message(max_bytes: int, setting: str = "PODIUM_MAX_BODY_BYTES", hint: str = "") -> str:
    return f"the request body is over the limit of {max_bytes} bytes ({setting}){hint}"


class BodyLimitMiddleware:
    """Refuses a body over `max_bytes`: by its Content-Length, or while it streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int, paths: Sequence[BodyLimit] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.paths = tuple(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = next((p for p in self.paths if p.path.fullmatch(scope.get("path", ""))), None)
        max_bytes = self.max_bytes if limit is None else limit.max_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_large = int(value) > max_bytes
                except ValueError:
                    too_large = False
                if too_large:
                    await self._refuse(scope, receive, send, limit)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge(max_bytes, limit.setting if limit else None)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, receive, send, limit)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, limit: BodyLimit | None = None
    ) -> None:
        if limit is None:
            max_bytes, message = self.max_bytes, _message(self.max_bytes)
        else:
            max_bytes = limit.max_bytes
            message = _message(max_bytes, limit.setting, limit.hint)
        response = envelope(413, "payload_too_large", message, {"max_bytes": max_bytes})
        await response(scope, receive, send)
