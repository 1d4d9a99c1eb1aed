"""Schedules (docs/schedules.md) against a live server: another tenant's schedule is not
found on any of its routes and stays as it was; a tenant cannot make a schedule that fires
more often than the server's minimum interval, hold more than the cap of schedules, store an
input over the cap, or start another app's flow."""

from __future__ import annotations

from typing import Any

import pytest
from tests.security.conftest import Tenant, security_env

CHAIN = {"name": "chain", "nodes": [{"id": "a", "type": "template", "config": {"template": "x"}}]}


@pytest.fixture
def live_env() -> dict[str, str]:
    return security_env(
        PODIUM_SCHEDULE_MAX_PER_APP="2",
        PODIUM_SCHEDULE_MIN_INTERVAL_SECONDS="300",
        PODIUM_SCHEDULE_MAX_INPUT_BYTES="1024",
    )


def test_another_tenants_schedule_is_out_of_reach(make_tenant: Any) -> None:
    alice: Tenant = make_tenant("alice")
    mallory: Tenant = make_tenant("mallory")
    alice.call("POST", "/apps/{app}/flows", CHAIN)
    secret = {"token": "alice-secret-schedule-input"}
    made = alice.call(
        "POST",
        "/apps/{app}/schedules",
        {"name": "nightly", "flow": "chain", "cron": "0 3 * * *", "input": secret},
    )
    victim = f"/apps/{alice.app_id}/schedules/{made['id']}"
    confused = f"/apps/{{app}}/schedules/{made['id']}"
    for path in (victim, confused):  # A's app; mallory's own app with A's schedule id
        for method, suffix, body in (
            ("GET", "", None),
            ("GET", "/preview", None),
            ("PATCH", "", {"cron": "0 4 * * *"}),
            ("POST", "/pause", None),
            ("POST", "/resume", None),
            ("DELETE", "", None),
        ):
            status, answer = mallory.request(method, path + suffix, body)
            assert status == 404, (method, path + suffix, status, answer)
            assert "alice-secret" not in str(answer) and "nightly" not in str(answer)
    status, listed = mallory.request("GET", f"/apps/{alice.app_id}/schedules")
    assert status == 404 and "nightly" not in str(listed)
    assert mallory.call("GET", "/apps/{app}/schedules") == []
    # Alice's schedule is as she made it.
    mine = alice.call("GET", f"/apps/{{app}}/schedules/{made['id']}")
    assert (mine["cron"], mine["paused"], mine["input"]) == ("0 3 * * *", False, secret)


def test_server_caps_on_schedules(make_tenant: Any) -> None:
    tenant: Tenant = make_tenant("carol")
    tenant.call("POST", "/apps/{app}/flows", CHAIN)
    status, answer = tenant.request(
        "POST", "/apps/{app}/schedules", {"name": "fast", "flow": "chain", "cron": "* * * * *"}
    )
    assert status == 422
    assert "PODIUM_SCHEDULE_MIN_INTERVAL_SECONDS" in answer["error"]["message"]
    status, answer = tenant.request(
        "POST",
        "/apps/{app}/schedules",
        {"name": "big", "flow": "chain", "cron": "@daily", "input": {"x": "y" * 2000}},
    )
    assert status == 422 and "PODIUM_SCHEDULE_MAX_INPUT_BYTES" in answer["error"]["message"]
    for name in ("one", "two"):
        tenant.call(
            "POST", "/apps/{app}/schedules", {"name": name, "flow": "chain", "cron": "@daily"}
        )
    status, answer = tenant.request(
        "POST", "/apps/{app}/schedules", {"name": "three", "flow": "chain", "cron": "@daily"}
    )
    assert status == 409 and "PODIUM_SCHEDULE_MAX_PER_APP=2" in answer["error"]["message"]
    # A change is held to the same minimum.
    one = tenant.call("GET", "/apps/{app}/schedules")[0]
    status, answer = tenant.request(
        "PATCH", f"/apps/{{app}}/schedules/{one['id']}", {"cron": "*/2 * * * *"}
    )
    assert status == 422 and answer["error"]["details"]["field"] == "cron"
    assert tenant.call("GET", f"/apps/{{app}}/schedules/{one['id']}")["cron"] == "@daily"
