"""A live `podium serve` for the client's tests, on every backend (SQLite always, PostgreSQL
when configured), with a platform admin `admin` and access tokens that expire after 3 seconds,
so that every test also shows the client refreshing its login by itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.api.live import PASSWORD, LiveServer, create_admin, server_env

from podium.client import Client

ACCESS_TOKEN_SECONDS = 3


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    env = server_env(PODIUM_ACCESS_TOKEN_MINUTES=str(ACCESS_TOKEN_SECONDS / 60))
    db = tmp_path / "podium.db"
    url = None if database_url.startswith("sqlite") else database_url
    create_admin(url or db, env)
    server = LiveServer(db=db, env=env, database_url=url).start()
    try:
        yield server
    finally:
        if server.process is not None:
            server.stop()


@pytest.fixture
def client(live: LiveServer) -> Iterator[Client]:
    """The admin, logged in with the sync client."""
    with Client(live.origin, timeout=20) as logged_in:
        logged_in.login("admin", PASSWORD)
        yield logged_in
