"""Webhooks (docs/webhooks.md) against a live server: a tenant cannot aim a webhook at the
server's network (loopback, private, link-local, `localhost`), at creation or by a change;
another tenant's webhook is not found on any of its routes, its secret is never answered
again, and the app's cap holds."""

from __future__ import annotations

from typing import Any

import pytest
from tests.security.conftest import Tenant, security_env

BLOCKED = (
    "http://127.0.0.1:8000/api/v1/setup",
    "http://localhost:8000/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://0x7f.1/",
)


@pytest.fixture
def live_env() -> dict[str, str]:
    return security_env(PODIUM_WEBHOOK_MAX_PER_APP="2")


def test_blocked_addresses_are_refused(make_tenant: Any) -> None:
    tenant: Tenant = make_tenant("mallory")
    for url in BLOCKED:
        status, answer = tenant.request(
            "POST", "/apps/{app}/webhooks", {"url": url, "events": ["run.succeeded"]}
        )
        assert status == 422, (url, status, answer)
        assert answer["error"]["code"] == "egress_refused", answer
        assert "PODIUM_EGRESS_ALLOW" in answer["error"]["message"]
    assert tenant.call("GET", "/apps/{app}/webhooks") == []
    made = tenant.call(
        "POST",
        "/apps/{app}/webhooks",
        {"url": "https://hooks.example.com/in", "events": ["run.failed"]},
    )
    status, answer = tenant.request(
        "PATCH", f"/apps/{{app}}/webhooks/{made['id']}", {"url": "http://127.0.0.1:5432/"}
    )
    assert status == 422 and answer["error"]["code"] == "egress_refused"
    assert tenant.call("GET", f"/apps/{{app}}/webhooks/{made['id']}")["url"] == (
        "https://hooks.example.com/in"
    )
    tenant.call(
        "POST",
        "/apps/{app}/webhooks",
        {"url": "https://hooks.example.com/2", "events": ["run.failed"]},
    )
    status, answer = tenant.request(
        "POST",
        "/apps/{app}/webhooks",
        {"url": "https://hooks.example.com/3", "events": ["run.failed"]},
    )
    assert status == 409 and "PODIUM_WEBHOOK_MAX_PER_APP=2" in answer["error"]["message"]


def test_another_tenants_webhook_is_out_of_reach(make_tenant: Any) -> None:
    alice: Tenant = make_tenant("alice")
    mallory: Tenant = make_tenant("mallory")
    made = alice.call(
        "POST",
        "/apps/{app}/webhooks",
        {"url": "https://alice-secret.example.com/in", "events": ["run.succeeded"]},
    )
    secret = made["secret"]
    for path in (
        f"/apps/{alice.app_id}/webhooks/{made['id']}",
        f"/apps/{{app}}/webhooks/{made['id']}",
    ):
        for method, suffix, body in (
            ("GET", "", None),
            ("GET", "/deliveries", None),
            ("PATCH", "", {"url": "https://mallory.example.com/steal"}),
            ("DELETE", "", None),
        ):
            status, answer = mallory.request(method, path + suffix, body)
            assert status == 404, (method, path + suffix, status, answer)
            assert "alice-secret" not in str(answer) and secret not in str(answer)
    status, _ = mallory.request("GET", f"/apps/{alice.app_id}/webhooks")
    assert status == 404
    assert mallory.call("GET", "/apps/{app}/webhooks") == []
    mine = alice.call("GET", f"/apps/{{app}}/webhooks/{made['id']}")
    assert mine["url"] == "https://alice-secret.example.com/in" and "secret" not in mine
