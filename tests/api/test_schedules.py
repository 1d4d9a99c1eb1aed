"""`/apps/{app_id}/schedules` (docs/schedules.md): create, read, change, pause, resume,
preview and delete; the server's workers fire a due schedule (with the clock the test sets);
bad input is a 422 naming the field; roles and other apps are refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import CHAIN_FLOW, Actor, api_settings

from podium.config import Settings

T0 = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC).timestamp()
DUE = datetime(2026, 1, 1, 0, 5, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def api_config(database_url: str) -> Settings:
    return api_settings(database_url, schedule_poll_seconds=0.05, schedule_max_per_app=3)


@pytest.fixture
def clock(api: TestClient) -> Clock:
    """The server's clock for schedules, set by the test."""
    clock = Clock(T0)
    api.app.state.podium.worker.clock = clock  # type: ignore[attr-defined]
    api.app.state.services.schedules.clock = clock  # type: ignore[attr-defined]
    return clock


@pytest.fixture
def alice(make_user: Any) -> Actor:
    return make_user("alice")


@pytest.fixture
def base(alice: Actor) -> str:
    app_id = alice.create_app("alice-app")
    assert alice.post(f"/api/v1/apps/{app_id}/flows", CHAIN_FLOW).status_code == 201
    return f"/api/v1/apps/{app_id}"


def test_a_schedule_is_made_fired_paused_resumed_and_deleted(
    alice: Actor, base: str, clock: Clock
) -> None:
    body = {"name": "every5", "flow": "chain", "cron": "*/5 * * * *", "input": {"k": "v"}}
    created = alice.post(f"{base}/schedules", body)
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["next_fire_at"] == DUE and schedule["overlap"] == "skip"
    assert schedule["timezone"] == "UTC" and schedule["fires"] == 0
    url = f"{base}/schedules/{schedule['id']}"
    assert [s["id"] for s in alice.get(f"{base}/schedules").json()] == [schedule["id"]]

    preview = alice.get(f"{url}/preview", params={"count": 3}).json()
    assert preview["times"] == [DUE, DUE + 300, DUE + 600]
    assert preview["iso"][0] == "2026-01-01T00:05:00+00:00"

    clock.now = DUE + 1  # the server's workers fire it
    deadline = time.monotonic() + 20
    while alice.get(url).json()["last_run_id"] is None and time.monotonic() < deadline:
        time.sleep(0.05)
    fired = alice.get(url).json()
    assert fired["last_outcome"] == "started" and fired["fires"] == 1
    assert fired["next_fire_at"] == DUE + 300
    run = alice.get(f"{base}/runs/{fired['last_run_id']}/wait", params={"timeout": 20}).json()
    assert run["status"] == "succeeded" and run["input"] == {"k": "v"}
    items = alice.get(f"{base}/events").json()["items"]
    schedule_events = [e for e in items if e["type"] == "schedule.fired"]
    assert [e["data"]["due_at"] for e in schedule_events] == [DUE]
    assert schedule_events[0]["run_id"] == fired["last_run_id"]

    paused = alice.post(f"{url}/pause").json()
    assert paused["paused"] is True and paused["next_fire_at"] is None
    clock.now = DUE + 3600
    resumed = alice.post(f"{url}/resume").json()
    # Due from now on: 00:10 … 01:05 passed while paused and are not fired.
    assert resumed["paused"] is False and resumed["next_fire_at"] == DUE + 3900

    changed = alice.patch(url, {"cron": "0 9 * * *", "timezone": "Europe/Paris"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["cron"] == "0 9 * * *" and changed.json()["name"] == "every5"
    assert alice.delete(url).status_code == 204
    assert alice.get(url).status_code == 404
    assert alice.get(f"{base}/schedules").json() == []


def test_preview_of_an_expression(alice: Actor, base: str) -> None:
    answer = alice.post(
        f"{base}/schedules/preview",
        {"cron": "0 9 * * mon-fri", "timezone": "America/New_York", "count": 2, "after": T0},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["iso"] == ["2026-01-01T09:00:00-05:00", "2026-01-02T09:00:00-05:00"]


BAD = [
    ({"cron": "every monday"}, "cron", "is not a cron expression of five fields"),
    ({"cron": "*/0 * * * *"}, "cron", "is not a cron expression"),
    ({"cron": "* * * * *", "timezone": "Europe/Atlantis"}, "timezone", "is not an IANA time zone"),
    ({"flow": "missing"}, "flow", "no flow named 'missing' in this app"),
    ({"input": {"big": "x" * 70_000}}, "input", "PODIUM_SCHEDULE_MAX_INPUT_BYTES"),
]


def test_bad_schedules_are_422(alice: Actor, base: str) -> None:
    for change, field, says in BAD:
        body = {"name": "bad", "flow": "chain", "cron": "@daily", **change}
        answer = alice.post(f"{base}/schedules", body)
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "schedule_invalid" and says in error["message"], error
        assert error["details"]["field"] == field
    assert alice.get(f"{base}/schedules").json() == []


def test_envelope_for_malformed_bodies_and_caps(alice: Actor, base: str) -> None:
    for body in (
        {"name": "x", "flow": "chain", "cron": "@daily", "overlap": "sometimes"},
        {"name": "../x", "flow": "chain", "cron": "@daily"},
        {"name": "x", "flow": "chain"},
        {"name": "x", "flow": "chain", "cron": "@daily", "extra": 1},
    ):
        answer = alice.post(f"{base}/schedules", body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "invalid_input"
    fast = alice.post(f"{base}/schedules/preview", {"cron": "*/5 * * * *", "count": 51})
    assert fast.status_code == 422
    for name in ("a", "b", "c"):
        made = alice.post(f"{base}/schedules", {"name": name, "flow": "chain", "cron": "@daily"})
        assert made.status_code == 201, made.text
    same = alice.post(f"{base}/schedules", {"name": "a", "flow": "chain", "cron": "@daily"})
    assert same.status_code == 409 and "already has a schedule named 'a'" in same.text
    over = alice.post(f"{base}/schedules", {"name": "d", "flow": "chain", "cron": "@daily"})
    assert over.status_code == 409 and "PODIUM_SCHEDULE_MAX_PER_APP=3" in over.text


def test_viewers_read_and_other_apps_see_nothing(alice: Actor, base: str, make_user: Any) -> None:
    made = alice.post(f"{base}/schedules", {"name": "s", "flow": "chain", "cron": "@daily"})
    url = f"{base}/schedules/{made.json()['id']}"
    viewer = make_user("victor")
    invited = alice.post(f"{base}/members", {"user": viewer.user["id"], "role": "viewer"})
    assert viewer.post(f"/api/v1/invitations/{invited.json()['id']}/accept").status_code == 200
    assert viewer.get(url).status_code == 200
    for method, path in (("post", f"{url}/pause"), ("delete", url), ("post", f"{base}/schedules")):
        answer = getattr(viewer, method)(path, **({"json": {}} if method == "post" else {}))
        assert answer.status_code == 403, answer.text
    mallory = make_user("mallory")
    other = mallory.create_app("mallory-app")
    for path in (url, f"{url}/preview"):
        assert mallory.get(path).status_code == 404
        confused = path.replace(base, f"/api/v1/apps/{other}")
        answer = mallory.get(confused)
        assert answer.status_code == 404 and made.json()["id"] in answer.text  # only the id sent
        assert "chain" not in answer.text
    assert alice.get(url).json()["paused"] is False
