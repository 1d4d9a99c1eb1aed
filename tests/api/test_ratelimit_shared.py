"""Rate limits across API processes: on PostgreSQL two app instances over one database share
each limit (the `rate_limits` table); on SQLite (one process) each instance counts its own."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.conftest import _create_admin, api_settings, login
from podium.assembly import create_app
from podium.storage.urls import dialect


def test_two_app_instances_share_the_login_limit_on_postgresql(database_url: str) -> None:
    settings = api_settings(database_url, login_address_rate_limit="3/minute")
    shared = dialect(database_url) == "postgresql"
    with (
        TestClient(create_app(settings, workers=0)) as first,
        TestClient(create_app(settings, workers=0)) as second,
    ):
        codes = []
        for client in (first, second, first, second, first):
            response = client.post(
                "/api/v1/auth/login", json={"identifier": "nobody", "password": "wrong"}
            )
            codes.append(response.status_code)
            if response.status_code == 429:
                assert "PODIUM_LOGIN_ADDRESS_RATE_LIMIT" in response.text
                assert float(response.headers["Retry-After"]) > 0
        if shared:  # 3 attempts in all, whichever instance answered
            assert codes == [401, 401, 401, 429, 429]
        else:  # 3 per instance
            assert codes == [401, 401, 401, 401, 401]


def test_two_app_instances_share_the_api_limit_on_postgresql(database_url: str) -> None:
    settings = api_settings(database_url, rate_limit="3/minute")
    shared = dialect(database_url) == "postgresql"
    with (
        TestClient(create_app(settings, workers=0)) as first,
        TestClient(create_app(settings, workers=0)) as second,
    ):
        first.portal.call(_create_admin, first, "root")  # type: ignore[union-attr]
        token = login(first, "root").access_token
        headers = {"Authorization": f"Bearer {token}"}
        codes = [
            client.get("/api/v1/apps", headers=headers).status_code
            for client in (first, second, first, second)
        ]
        if shared:  # 3 requests of this user in all, whichever instance answered
            assert codes == [200, 200, 200, 429]
        else:  # 3 per instance
            assert codes == [200, 200, 200, 200]
