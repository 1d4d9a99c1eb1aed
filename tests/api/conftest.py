"""API fixtures: a server app on every backend, users with tokens, apps with members.

`api` is a TestClient over `create_app` (lifespan run, 2 in-process workers) on the
`database_url` of tests/conftest.py (SQLite always, PostgreSQL when configured). `Actor`
bundles a user, their headers and helpers, so tests read as what a user does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import fast_settings

from podium.assembly import create_app
from podium.config import Settings

PASSWORD = "correct horse battery"


def api_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": "test-secret-key-that-is-long-enough-for-hs256",
        "rate_limit": "100000/minute",
        "ws_rate_limit": "100000/minute",
        "login_rate_limit": "100000/minute",
        "login_address_rate_limit": "100000/minute",
    }
    values.update(overrides)
    return fast_settings(**values)


@pytest.fixture
def api_config(database_url: str) -> Settings:
    """Override in a test module to change settings of the `api` client."""
    return api_settings(database_url)


@pytest.fixture
def api(api_config: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_config, workers=2)) as client:
        yield client


@dataclass
class Actor:
    client: TestClient
    user: dict[str, Any]
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self.headers, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.post(path, json=json, headers=self.headers, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.patch(path, json=json, headers=self.headers, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.client.delete(path, headers=self.headers, **kwargs)

    def create_app(self, name: str) -> str:
        response = self.post("/api/v1/apps", {"name": name})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


def login(client: TestClient, identifier: str, password: str = PASSWORD) -> Actor:
    response = client.post(
        "/api/v1/auth/login", json={"identifier": identifier, "password": password}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Actor(client, body["user"], body["access_token"], body["refresh_token"])


async def _create_admin(client: TestClient, username: str) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    await services.auth.create_user(f"{username}@example.com", username, PASSWORD, is_admin=True)


@pytest.fixture
def admin(api: TestClient) -> Actor:
    """A platform administrator, logged in (created the way `podium users create-admin` does)."""
    api.portal.call(_create_admin, api, "root")  # type: ignore[union-attr]
    return login(api, "root")


@pytest.fixture
def make_user(api: TestClient, admin: Actor) -> Any:
    """`make_user("alice")` → a logged-in Actor (created by the admin through the API)."""

    def make(username: str) -> Actor:
        response = admin.post(
            "/api/v1/users",
            {"email": f"{username}@example.com", "username": username, "password": PASSWORD},
        )
        assert response.status_code == 201, response.text
        return login(api, username)

    return make


ASK_FLOW = {
    "name": "ask",
    "nodes": [
        {"id": "ask_name", "type": "human", "config": {"question": "Name?", "output_key": "name"}},
        {
            "id": "greet",
            "type": "template",
            "config": {"template": "Hi {{ name }}", "output_key": "greeting"},
        },
    ],
    "edges": [{"source": "ask_name", "target": "greet"}],
}
CHAIN_FLOW = {
    "name": "chain",
    "state": {"reducers": {"visited": "append"}},
    "nodes": [
        {
            "id": f"n{i}",
            "type": "template",
            "config": {"template": f"n{i}", "output_key": "visited"},
        }
        for i in range(3)
    ],
    "edges": [{"source": f"n{i}", "target": f"n{i + 1}"} for i in range(2)],
}


def add_member(owner: Actor, base: str, member: Actor, role: str) -> None:
    """`owner` invites `member` (by id) to the app at `base` and `member` accepts: members of
    an app join by invitation (only platform admins add them directly)."""
    invited = owner.post(f"{base}/members", {"user": member.user["id"], "role": role})
    assert invited.status_code == 202, invited.text
    accepted = member.post(f"/api/v1/invitations/{invited.json()['id']}/accept")
    assert accepted.status_code == 200, accepted.text
