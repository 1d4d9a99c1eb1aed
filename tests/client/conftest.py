"""A live `podium serve` for the client's tests, one per test module and backend (SQLite
always, PostgreSQL when configured), with a platform admin `admin` and access tokens that
expire after 3 seconds, so that every test also shows the client refreshing its login by
itself. Tests share the server: each makes its own app."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from tests.api.live import PASSWORD, SECRET, LiveServer, server_env
from tests.conftest import BACKENDS, _truncate

from podium.auth.service import setup_token_of
from podium.client import Client

ACCESS_TOKEN_SECONDS = 3


def live_env() -> dict[str, str]:
    return server_env(PODIUM_ACCESS_TOKEN_MINUTES=str(ACCESS_TOKEN_SECONDS / 60))


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    env = live_env()
    db = tmp_path_factory.mktemp("live") / "podium.db"
    url: str | None = None
    if request.param == "postgresql":
        url = str(request.getfixturevalue("postgres_migrated"))
        asyncio.run(_truncate(url))
    server = LiveServer(db=db, env=env, database_url=url).start()
    try:
        # The first administrator, the way a first run makes one (POST /setup).
        admin = {"email": "admin@example.com", "username": "admin", "password": PASSWORD}
        server.call("POST", "/setup", {"setup_token": setup_token_of(SECRET), **admin})
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
