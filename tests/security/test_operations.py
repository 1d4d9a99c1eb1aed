"""Finding 10, operations: credentials in WebSocket query strings were written to the access
log, and anonymous `/api/v1/status` showed tenant-sized counts. Now the log shows
`[redacted]` for `token`, `api_key` and `access_token`, and the counts (and `/metrics`) are for
platform admins or a scraper with PODIUM_METRICS_TOKEN; health and readiness stay public."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import websockets
from tests.api.live import LiveServer
from tests.security.conftest import Tenant, security_env

SCRAPE = "scrape-token-of-the-operator-0123456789"


@pytest.fixture
def live_env() -> dict[str, str]:
    return security_env(PODIUM_METRICS_TOKEN=SCRAPE)


def test_credentials_in_query_strings_never_reach_the_log(
    live: LiveServer, make_tenant: Any
) -> None:
    mallory: Tenant = make_tenant("mallory")
    key = mallory.call("POST", "/apps/{app}/api-keys", {"name": "k", "role": "viewer"})["key"]

    async def connect(query: str) -> None:
        async with websockets.connect(f"ws://127.0.0.1:{live.port}/api/v1/ws?{query}") as ws:
            await asyncio.wait_for(ws.recv(), 10)

    asyncio.run(connect(f"token={mallory.token}"))
    asyncio.run(connect(f"x=1&api_key={key}"))
    for query in (f"access_token={mallory.token}", f"api_key={key}&limit=5"):
        httpx.get(f"{live.url}/apps?{query}", timeout=10)
    live.stop()  # flushes the log
    log = live.output()
    assert mallory.token not in log and key not in log and key[:12] not in log
    assert "/api/v1/ws?token=[redacted]" in log
    assert "/api/v1/ws?x=1&api_key=[redacted]" in log
    assert "/api/v1/apps?access_token=[redacted]" in log
    assert "/api/v1/apps?api_key=[redacted]&limit=5" in log


def test_counts_are_for_operators_and_probes_stay_public(
    live: LiveServer, admin_token: str, make_tenant: Any
) -> None:
    mallory: Tenant = make_tenant("mallory")
    status, anonymous = live.request("GET", "/status")
    assert status == 200
    assert set(anonymous) == {"version", "mode", "database", "workers"}
    status, body = mallory.request("GET", "/status")
    assert status == 403 and "PODIUM_METRICS_TOKEN" in body["error"]["message"]
    for url in (f"{live.url}/metrics", f"{live.origin}/metrics"):
        nobody = httpx.get(url, timeout=10)
        assert nobody.status_code == 401
        assert "PODIUM_METRICS_TOKEN" in nobody.json()["error"]["message"]
        tenant = httpx.get(url, headers={"Authorization": f"Bearer {mallory.token}"}, timeout=10)
        assert tenant.status_code == 403
        scraper = httpx.get(url, headers={"Authorization": f"Bearer {SCRAPE}"}, timeout=10)
        assert scraper.status_code == 200 and "podium_runs" in scraper.text
    status, full = live.request("GET", "/status", None, admin_token)
    assert status == 200 and full["counts"]["users"] == 2
    scraped = httpx.get(
        f"{live.url}/status", headers={"Authorization": f"Bearer {SCRAPE}"}, timeout=10
    )
    assert scraped.json()["counts"]["apps"] >= 1
    for url in (f"{live.url}/health", f"{live.url}/ready", f"{live.origin}/health"):
        probe = httpx.get(url, timeout=10)
        assert probe.status_code == 200 and "counts" not in probe.json()
