"""CORS (`PODIUM_CORS_ORIGINS`): a browser front end on a listed origin may call the API —
its preflight passes and answers carry its origin — and any other origin is refused; with no
origin listed no CORS header is ever sent."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from tests.api.conftest import Actor, api_settings

from podium.assembly import create_app
from podium.config import Settings

EDITOR = "https://editor.example"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def preflight(client: TestClient, origin: str, path: str = "/api/v1/apps") -> object:
    return client.options(path, headers={"Origin": origin, **PREFLIGHT})


@pytest.fixture
def api_config(database_url: str) -> Settings:
    return api_settings(database_url, cors_origins=f'["{EDITOR}/", "https://other.example"]')


def test_a_preflight_from_a_listed_origin_passes(api: TestClient) -> None:
    answer = preflight(api, EDITOR)
    assert answer.status_code == 200, answer.text  # not 405
    headers = answer.headers
    assert headers["access-control-allow-origin"] == EDITOR
    assert {"POST", "PATCH", "DELETE"} <= set(headers["access-control-allow-methods"].split(", "))
    allowed = {h.lower() for h in headers["access-control-allow-headers"].split(", ")}
    assert {"authorization", "content-type", "x-api-key"} <= allowed
    assert "access-control-allow-credentials" not in headers  # headers, not cookies
    assert headers["access-control-max-age"] == "600"


def test_a_preflight_from_another_origin_is_refused(api: TestClient) -> None:
    answer = preflight(api, "https://evil.example")
    assert answer.status_code == 400
    assert answer.text == "Disallowed CORS origin"
    assert "access-control-allow-origin" not in answer.headers


def test_answers_carry_the_listed_origin_only(api: TestClient, admin: Actor) -> None:
    listed = api.get("/api/v1/apps", headers={**admin.headers, "Origin": EDITOR})
    assert listed.status_code == 200
    assert listed.headers["access-control-allow-origin"] == EDITOR
    assert listed.headers["access-control-expose-headers"] == "Retry-After"
    other = api.get("/api/v1/apps", headers={**admin.headers, "Origin": "https://evil.example"})
    assert other.status_code == 200  # a server-side client is not a browser: no CORS answer
    assert "access-control-allow-origin" not in other.headers


def test_a_listed_origin_may_open_the_websocket(api: TestClient, admin: Actor) -> None:
    url = f"/api/v1/ws?token={admin.access_token}"
    with api.websocket_connect(url, headers={"origin": EDITOR}) as ws:
        assert ws.receive_json()["type"] == "connection.ready"


def test_without_origins_there_are_no_cors_headers(database_url: str) -> None:
    with TestClient(create_app(api_settings(database_url), workers=0)) as client:
        answer = preflight(client, EDITOR)
        assert answer.status_code == 405  # no preflight handling at all
        assert "access-control-allow-origin" not in answer.headers
        health = client.get("/api/v1/health", headers={"Origin": EDITOR})
        assert "access-control-allow-origin" not in health.headers


def test_any_origin_is_allowed_without_credentials(database_url: str) -> None:
    with TestClient(create_app(api_settings(database_url, cors_origins="*"), workers=0)) as c:
        answer = preflight(c, "https://anywhere.example")
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in answer.headers


def test_the_setting_takes_a_comma_list_or_a_json_list() -> None:
    assert Settings(cors_origins=" https://a.example/, https://b.example ").cors_origins == [
        "https://a.example",
        "https://b.example",
    ]
    assert Settings(cors_origins='["https://a.example"]').cors_origins == ["https://a.example"]
    assert Settings(cors_origins="").cors_origins == []
    with pytest.raises(ValidationError, match="is not a JSON list of origins"):
        Settings(cors_origins='["https://a.example"')
    with pytest.raises(ValidationError, match="is a JSON list of origins"):
        Settings(cors_origins="[1, 2]")
