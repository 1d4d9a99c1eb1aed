"""Cross-origin requests from browser front ends (`PODIUM_CORS_ORIGINS`; docs/security.md).

The API authenticates with headers (`Authorization: Bearer`, `X-API-Key`), never cookies,
so a browser sends no credential on its own: CORS only lets the listed origins read the
answers. Credentials mode stays off (`Access-Control-Allow-Credentials` is never sent), which
is also what makes `*` safe to allow. With no origin listed the middleware is not installed
and no CORS header is ever sent: browsers keep to the same origin.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from podium.config import Settings

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
HEADERS = ["Authorization", "Content-Type", "X-API-Key", "Last-Event-ID", "Accept"]
EXPOSED = ["Retry-After"]
PREFLIGHT_MAX_AGE = 600  # seconds a browser may cache a preflight's answer


def install_cors(app: FastAPI, settings: Settings) -> None:
    """Answer preflights and add CORS headers for the listed origins (outermost middleware,
    so a preflight is answered before the body limits, the rate limit or authentication)."""
    origins = settings.cors_origins
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=METHODS,
        allow_headers=HEADERS,
        expose_headers=EXPOSED,
        allow_credentials=False,
        max_age=PREFLIGHT_MAX_AGE,
    )
