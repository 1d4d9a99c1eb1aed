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

STATIC_DIR = Path(__file__).parent / "static"
CONSOLE_PATH = "/console"


def mount_console(app: FastAPI) -> None:
    """Serve the console at `/console/` and send `GET /` there."""

    async def root() -> RedirectResponse:
        return RedirectResponse(f"{CONSOLE_PATH}/", status_code=307)

    async def console_no_slash() -> RedirectResponse:
        return RedirectResponse(f"{CONSOLE_PATH}/", status_code=307)

    app.add_api_route("/", root, methods=["GET"], include_in_schema=False)
    app.add_api_route(CONSOLE_PATH, console_no_slash, methods=["GET"], include_in_schema=False)
    app.mount(CONSOLE_PATH, StaticFiles(directory=STATIC_DIR, html=True), name="console")
