"""The attacker's view: a live `podium serve` on every backend (SQLite always, PostgreSQL when
configured), a platform admin, and tenants who sign in and own their apps.

Each test module under tests/security/ reproduces findings of docs/security.md as attacks
against this server and shows the refusal and that nothing was stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.api.live import PASSWORD, LiveServer, create_admin, login, server_env


@dataclass
class Tenant:
    """A signed-in user who owns one app on the live server."""

    server: LiveServer
    username: str
    token: str
    app_id: str

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        """(status, body) of a call under /api/v1; `{app}` in `path` is this tenant's app."""
        return self.server.request(method, path.format(app=self.app_id), body, self.token, **kwargs)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.request(method, path, body)
        assert 200 <= status < 300, f"{method} {path} -> {status} {answer}"
        return answer


def security_env(**extra: str) -> dict[str, str]:
    """A server's environment for attacks: the defaults of a fresh install, fast polling."""
    return server_env(**extra)


@pytest.fixture
def live_env() -> dict[str, str]:
    """Override in a module to start the server with other settings."""
    return security_env()


@pytest.fixture
def live(database_url: str, tmp_path: Path, live_env: dict[str, str]) -> Iterator[LiveServer]:
    """A running `podium serve` over the test's database, with a platform admin `admin`."""
    db = tmp_path / "podium.db"
    url = None if database_url.startswith("sqlite") else database_url
    create_admin(url or db, live_env)
    server = LiveServer(db=db, env=live_env, database_url=url).start()
    try:
        yield server
    finally:
        if server.process is not None:
            server.stop()


@pytest.fixture
def admin_token(live: LiveServer) -> str:
    return login(live)


@pytest.fixture
def make_tenant(live: LiveServer, admin_token: str) -> Any:
    """`make_tenant("mallory")`: a user (made by the admin) who signs in and creates an app."""

    def make(username: str) -> Tenant:
        live.call(
            "POST",
            "/users",
            {"email": f"{username}@example.com", "username": username, "password": PASSWORD},
            admin_token,
        )
        token = login(live, username, PASSWORD)
        app = live.call("POST", "/apps", {"name": f"{username}-app"}, token)
        return Tenant(live, username, token, str(app["id"]))

    return make
