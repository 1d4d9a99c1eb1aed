"""A bound on request bodies: larger ones are answered 413 before they are read whole."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium.api.errors import envelope


class BodyTooLarge(HTTPException):
    """Raised while a body streams in past the limit. An HTTPException, because FastAPI turns
    any other exception raised while it reads a body into a 400 "error parsing the body"."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, _message(max_bytes))
        self.details = {"max_bytes": max_bytes}


def _message(max_bytes: int) -> str:
    return f"the request body is over the limit of {max_bytes} bytes (PODIUM_MAX_BODY_BYTES)"


class BodyLimitMiddleware:
    """Refuses a body over `max_bytes`: by its Content-Length, or while it streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.max_bytes
                except ValueError:
                    too_large = False
                if too_large:
                    await self._refuse(scope, receive, send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
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
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = envelope(
            413,
            "payload_too_large",
            _message(self.max_bytes),
            {"max_bytes": self.max_bytes},
        )
        await response(scope, receive, send)
