"""First run: `GET/POST /api/v1/setup` create the first administrator with the setup token
that `podium serve` prints while there is none; bad input gets a clear message."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import PASSWORD, api_settings
from tests.api.live import LiveServer, server_env
from tests.api.test_auth import assert_error

from podium.assembly import create_app
from podium.auth.passwords import hash_password_off_loop
from podium.auth.service import setup_token_of
from podium.config import Settings
from podium.storage import accounts

SECRET = "test-secret-key-that-is-long-enough-for-hs256"  # tests/api/conftest.py's
TOKEN = setup_token_of(SECRET)
SETUP = "/api/v1/setup"


def body(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "setup_token": TOKEN,
        "email": "owner@example.com",
        "username": "owner",
        "password": PASSWORD,
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def test_setup_creates_the_first_admin_once_and_logs_them_in(api: TestClient) -> None:
    assert api.get(SETUP).json() == {"needs_admin": True}

    created = api.post(SETUP, json=body())
    assert created.status_code == 201, created.text
    answer = created.json()
    assert answer["user"]["username"] == "owner"
    assert answer["user"]["is_admin"] is True
    assert answer["refresh_token"] and answer["expires_in"] > 0
    me = api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {answer['access_token']}"})
    assert me.status_code == 200 and me.json()["is_admin"] is True
    # The administrator can do what administrators do.
    users = api.get("/api/v1/users", headers={"Authorization": f"Bearer {answer['access_token']}"})
    assert users.status_code == 200, users.text
    assert api.get(SETUP).json() == {"needs_admin": False}

    # A second administrator through setup: refused, even with the right token.
    second = api.post(SETUP, json=body(email="other@example.com", username="other"))
    error = assert_error(second, 409, "conflict")
    assert "has an administrator already" in error["message"]
    assert "log in" in error["message"]
    # And the login of the first works.
    login = api.post("/api/v1/auth/login", json={"identifier": "owner", "password": PASSWORD})
    assert login.status_code == 200


def test_a_wrong_token_is_refused_and_creates_nobody(api: TestClient) -> None:
    off_by_one = TOKEN[:-1] + ("0" if TOKEN[-1] != "0" else "1")
    for token in ("nope", off_by_one, setup_token_of("x" * 40)):
        error = assert_error(api.post(SETUP, json=body(setup_token=token)), 403, "forbidden")
        assert error["message"].startswith("wrong setup token")
        assert "podium serve" in error["message"]
        assert error["details"] == {"field": "setup_token"}
    assert api.get(SETUP).json() == {"needs_admin": True}


def test_bad_input_gets_a_clear_message(api: TestClient) -> None:
    weak = assert_error(api.post(SETUP, json=body(password="password123")), 400, "invalid_input")
    assert "password" in weak["message"].lower()

    short = assert_error(api.post(SETUP, json=body(password="short")), 422, "invalid_input")
    assert short["message"].startswith("body.password:")

    bad_email = assert_error(api.post(SETUP, json=body(email="not-an-email")), 422, "invalid_input")
    assert bad_email["message"].startswith("body.email:")

    for field in ("setup_token", "email", "username", "password"):
        missing = body()
        del missing[field]
        error = assert_error(api.post(SETUP, json=missing), 422, "invalid_input")
        assert error["message"] == f"body.{field}: Field required", error

    extra = assert_error(api.post(SETUP, json={**body(), "is_admin": False}), 422, "invalid_input")
    assert extra["message"].startswith("body.is_admin:")
    # None of it created anyone.
    assert api.get(SETUP).json() == {"needs_admin": True}


def test_setup_is_closed_when_an_admin_was_made_by_the_cli(api: TestClient, admin: Any) -> None:
    assert api.get(SETUP).json() == {"needs_admin": False}
    error = assert_error(api.post(SETUP, json=body()), 409, "conflict")
    assert "has an administrator already" in error["message"]


def test_concurrent_first_runs_create_one_administrator(database_url: str) -> None:
    """Many POSTs at once with the right token: exactly one 201, the others 409."""
    settings = api_settings(database_url)
    with TestClient(create_app(settings, workers=0)) as client:
        services = client.app.state.services  # type: ignore[attr-defined]

        async def race() -> list[Any]:
            # The transactions themselves at once (the password hashed beforehand, so that
            # they overlap rather than finish one by one between hashes).
            hashed = await hash_password_off_loop(PASSWORD)

            async def attempt(i: int) -> Any:
                script = accounts.create_first_admin(f"a{i}@example.com", f"admin{i}", hashed, 0.0)
                try:
                    return await services.auth.store.run_script(lambda: script)
                except Exception as exc:
                    return exc

            return await asyncio.gather(*(attempt(i) for i in range(8)))

        outcomes = client.portal.call(race)  # type: ignore[union-attr]
        won = [o for o in outcomes if not isinstance(o, Exception)]
        lost = [o for o in outcomes if isinstance(o, Exception)]
        assert len(won) == 1, outcomes
        assert all(type(o).__name__ == "Conflict" for o in lost), lost
        users = client.portal.call(services.auth.list_users, 50, None)  # type: ignore[union-attr]
        assert [u.username for u in users if u.is_admin] == [won[0].username]

        # Over HTTP from threads too: one 201 at most (the admin exists now: all 409).
        statuses: list[int] = []

        def post(i: int) -> None:
            statuses.append(client.post(SETUP, json=body(username=f"late{i}")).status_code)

        threads = [threading.Thread(target=post, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [409] * 4


@pytest.fixture
def limited_config(database_url: str) -> Settings:
    return api_settings(database_url, login_address_rate_limit="3/minute")


def test_setup_attempts_are_rate_limited_like_logins(limited_config: Settings) -> None:
    with TestClient(create_app(limited_config, workers=0)) as client:
        for _ in range(3):
            assert client.post(SETUP, json=body(setup_token="guess")).status_code == 403
        error = assert_error(client.post(SETUP, json=body()), 429, "rate_limited")
        assert "PODIUM_LOGIN_ADDRESS_RATE_LIMIT" in error["message"]


@pytest.mark.slow
def test_podium_serve_prints_the_first_run_link_until_there_is_an_admin(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "first.db", server_env()).start()
    try:
        link = re.search(
            r"first run: open (http://127\.0\.0\.1:\d+/console/#/setup\?token=(\w+)) "
            r"to create the administrator",
            server.output(),
        )
        assert link, server.output()
        assert link.group(1).startswith(server.origin)
        token = link.group(2)
        status, answer = server.request("POST", "/setup", body(setup_token=token))
        assert status == 201, answer
    finally:
        server.stop()
    server.start()  # an administrator exists now: no link
    try:
        assert "first run" not in server.output()
        assert "console at http://127.0.0.1" in server.output()
    finally:
        server.stop()
