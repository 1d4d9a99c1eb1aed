"""The web console: static files served at `/console` by `podium serve`.

No build step and no Node toolchain at run time: the console is plain ES modules, HTML and
CSS checked in under `static/` (docs/console.md). It speaks only the public API (HTTP under
`/api/v1`, Server-Sent Events and the `/ws` WebSocket) with the same credentials as any other
client, so it is also the reference client.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).parent / "static"
CONSOLE_PATH = "/console"

# No inline script or style, no eval, nothing from another origin, never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    # Revalidated on every load (cheap: ETag), so a new version is never mixed with old modules.
    (b"cache-control", b"no-cache"),
]


class SecurityHeaders:
    """Adds `SECURITY_HEADERS` to every response of the wrapped ASGI app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + SECURITY_HEADERS}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def mount_console(app: FastAPI) -> None:
    """Serve the console at `/console/` and send `GET /` there."""

    async def root() -> RedirectResponse:
        return RedirectResponse(f"{CONSOLE_PATH}/", status_code=307)

    async def console_no_slash() -> RedirectResponse:
        return RedirectResponse(f"{CONSOLE_PATH}/", status_code=307)

    app.add_api_route("/", root, methods=["GET"], include_in_schema=False)
    app.add_api_route(CONSOLE_PATH, console_no_slash, methods=["GET"], include_in_schema=False)
    static = StaticFiles(directory=STATIC_DIR, html=True)
    app.mount(CONSOLE_PATH, SecurityHeaders(static), name="console")
