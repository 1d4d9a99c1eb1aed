"""The app factory: `create_app(settings)` opens the engine for the app's lifetime."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request

from podium import __version__
from podium.api import errors
from podium.config import Settings, get_settings
from podium.engine.node_types import catalogue
from podium.engine.runtime import Podium


def create_app(settings: Settings | None = None, *, workers: int | None = None) -> FastAPI:
    """The API over a `Podium` opened (migrated, with `workers` slots) while the app runs."""
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with Podium.open(settings=settings, workers=workers) as podium:
            app.state.podium = podium
            yield

    app = FastAPI(title="Podium", version=__version__, lifespan=lifespan)
    errors.install(app)

    @app.get("/api/v1/health", tags=["server"])
    async def health(request: Request) -> dict[str, Any]:
        """The server is up and its database answers."""
        podium: Podium = request.app.state.podium
        await podium.store.list_runs(limit=1)
        return {"status": "ok", "version": __version__, "database": podium.store.dialect}

    @app.get("/api/v1/node-types", tags=["flows"])
    async def node_types() -> list[dict[str, Any]]:
        """Every node type: its config schema, ports and output schema."""
        return catalogue()

    return app
