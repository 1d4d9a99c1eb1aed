"""Operations: readiness, status, Prometheus metrics, and the bounds on bodies and rates."""

from __future__ import annotations

import copy
import re

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import ASK_FLOW, CHAIN_FLOW, Actor, api_settings

from podium.config import Settings


def test_ready_checks_database_migrations_and_workers(api: TestClient) -> None:
    for path in ("/api/v1/ready", "/ready"):
        response = api.get(path)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "status": "ready",
            "checks": {"database": "ok", "migrations": "ok", "workers": "ok"},
        }


def test_status_counts_apps_users_sessions_and_runs(admin: Actor) -> None:
    app_id = admin.create_app("ops")
    base = f"/api/v1/apps/{app_id}"
    assert admin.post(f"{base}/flows", ASK_FLOW).status_code == 201
    run_id = admin.post(f"{base}/sessions", {"flow": "ask"}).json()["run_id"]
    assert admin.get(f"{base}/runs/{run_id}/wait?timeout=20").json()["status"] == "interrupted"
    body = admin.get("/api/v1/status").json()
    assert body["mode"] == "embedded" and body["workers"] == 2
    assert body["database"] in ("sqlite", "postgresql")
    assert body["counts"]["users"] == 1 and body["counts"]["sessions"] == 1
    assert body["counts"]["runs"] == {"interrupted": 1}
    assert body["counts"]["apps"] >= 1  # the app, and the one that holds shipped flows


def _sample(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name}{labels} not in metrics:\n{text}"
    return float(match.group(1))


def test_metrics_are_prometheus_text(admin: Actor) -> None:
    app_id = admin.create_app("metrics")
    base = f"/api/v1/apps/{app_id}"
    assert admin.post(f"{base}/flows", CHAIN_FLOW).status_code == 201
    run_id = admin.post(f"{base}/sessions", {"flow": "chain"}).json()["run_id"]
    assert admin.get(f"{base}/runs/{run_id}/wait?timeout=20").json()["status"] == "succeeded"
    with admin.client.websocket_connect(f"/api/v1/ws?token={admin.access_token}") as ws:
        assert ws.receive_json()["type"] == "connection.ready"
        response = admin.get("/api/v1/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert _sample(text, "podium_runs", '{status="succeeded"}') == 1
    assert _sample(text, "podium_runs", '{status="queued"}') == 0
    assert _sample(text, "podium_queue_depth") == 0
    assert _sample(text, "podium_open_websockets") == 1
    assert _sample(text, "podium_step_duration_seconds_count", '{status="succeeded"}') == 3
    assert "# TYPE podium_step_duration_seconds histogram" in text
    assert admin.get("/metrics").text.count("podium_queue_depth") >= 1
    after = admin.get("/api/v1/metrics").text
    assert _sample(after, "podium_open_websockets") == 0


class TestOperatorsOnly:
    @pytest.fixture
    def api_config(self, database_url: str) -> Settings:
        return api_settings(database_url, metrics_token="scrape-token-of-the-operator")

    def test_counts_are_for_platform_admins_and_the_scrape_token(
        self, api: TestClient, admin: Actor, make_user: object
    ) -> None:
        tenant: Actor = make_user("tenant")  # type: ignore[operator]
        anonymous = api.get("/api/v1/status")
        assert anonymous.status_code == 200
        assert "counts" not in anonymous.json() and "open_sockets" not in anonymous.json()
        refused = tenant.get("/api/v1/status")
        assert refused.status_code == 403
        assert "PODIUM_METRICS_TOKEN" in refused.json()["error"]["message"]
        for path in ("/metrics", "/api/v1/metrics"):
            nobody = api.get(path)
            assert nobody.status_code == 401, nobody.text
            assert "PODIUM_METRICS_TOKEN" in nobody.json()["error"]["message"]
            assert tenant.get(path).status_code == 403
            wrong = api.get(path, headers={"Authorization": "Bearer scrape-token-of-another"})
            assert wrong.status_code == 401
            scraped = api.get(
                path, headers={"Authorization": "Bearer scrape-token-of-the-operator"}
            )
            assert scraped.status_code == 200 and "podium_runs" in scraped.text
        assert admin.get("/api/v1/status").json()["counts"]["users"] == 2
        for path in ("/health", "/ready", "/api/v1/health", "/api/v1/ready"):
            assert api.get(path).status_code == 200
            assert "counts" not in api.get(path).json()


class TestBounds:
    @pytest.fixture
    def api_config(self, database_url: str) -> Settings:
        return api_settings(database_url, max_body_bytes=1000, rate_limit="5/minute")

    def test_a_body_over_the_limit_is_413_with_the_envelope(self, admin: Actor) -> None:
        app_id = admin.create_app("big")
        flow = copy.deepcopy(CHAIN_FLOW)
        flow["description"] = "x" * 2000
        response = admin.post(f"/api/v1/apps/{app_id}/flows", flow)
        assert response.status_code == 413
        error = response.json()["error"]
        assert error["code"] == "payload_too_large" and error["details"]["max_bytes"] == 1000
        assert "1000" in error["message"]
        # A body streamed without a Content-Length is bounded too.
        chunks = (b"x" * 400 for _ in range(5))
        streamed = admin.client.post(
            f"/api/v1/apps/{app_id}/flows",
            content=chunks,
            headers={**admin.headers, "Content-Type": "application/json"},
        )
        assert streamed.status_code == 413
        assert streamed.json()["error"]["code"] == "payload_too_large"
        assert admin.post(f"/api/v1/apps/{app_id}/flows", CHAIN_FLOW).status_code == 201

    def test_too_many_requests_are_429_with_retry_after(self, admin: Actor) -> None:
        # Logging in is not counted; each authenticated call is.
        statuses = [admin.get("/api/v1/apps").status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        response = admin.get("/api/v1/auth/me")
        assert response.status_code == 429
        error = response.json()["error"]
        assert error["code"] == "rate_limited" and "5 per 1 minute" in error["message"]
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert admin.client.get("/api/v1/health").status_code == 200  # probes are not limited
