"""Every JSON request body passes the one JSON boundary (`podium.jsonvalue`) before a route
sees it: nested too deep, a NUL character, NaN/Infinity or an over-long string or key is
answered 422 `json_invalid` and nothing runs, so nothing is stored."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium import jsonvalue
from podium.api.errors import envelope
from podium.errors import JSONValueInvalid
from podium.jsonvalue import JSONLimits


def is_json_media(content_type: bytes) -> bool:
    """Whether a Content-Type is one FastAPI decodes as JSON: application/json or
    application/*+json (e.g. application/merge-patch+json)."""
    media = content_type.split(b";", 1)[0].strip().lower()
    if not media.startswith(b"application/"):
        return False
    subtype = media[len(b"application/") :]
    return subtype == b"json" or subtype.endswith(b"+json")


class JSONBodyMiddleware:
    """Reads a JSON body whole (BodyLimitMiddleware, outside this one, bounds its size),
    checks it with `jsonvalue.loads`, and hands the same bytes to the app."""

    def __init__(self, app: ASGIApp, limits: JSONLimits | None = None) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._has_json_body(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            try:
                jsonvalue.loads(body, "the request body", self.limits)
            except JSONValueInvalid as exc:
                response = envelope(422, exc.code, exc.message, exc.details)
                await response(scope, receive, send)
                return
        request: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([request], receive), send)

    @staticmethod
    def _has_json_body(scope: Scope) -> bool:
        if scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            return False
        for name, value in scope.get("headers", []):
            if name == b"content-type":
                return is_json_media(value)
        # No Content-Type: FastAPI reads such a body as JSON when strict_content_type is off,
        # so it is checked as JSON too.
        return True


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that gives `messages` first, then the real ones (a disconnect the app
    waits for still arrives)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
