"""`/apps/{app_id}/retention` and what pruning means to readers of the log: owners and admins
set a policy within the server's caps (anything else is a clear 422 or 403/404), and a client
asking for events after a seq that was pruned gets 410 `log_truncated`, over JSON pages, SSE
and the WebSocket alike."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.conftest import CHAIN_FLOW, Actor, add_member, api_settings

from podium.config import Settings

WAIT = "?timeout=20"


@pytest.fixture
def api_config(database_url: str) -> Settings:
    return api_settings(
        database_url,
        retention={"events": {"days": 30}, "runs": {"keep_last": 500}},
        retention_max_days=90,
        retention_max_keep_last=1000,
    )


@pytest.fixture
def owner(make_user: Any) -> Actor:
    actor: Actor = make_user("olga")
    return actor


@pytest.fixture
def base(owner: Actor) -> str:
    return f"/api/v1/apps/{owner.create_app('kept')}"


def put(actor: Actor, path: str, body: Any) -> Any:
    return actor.client.put(path, json=body, headers=actor.headers)


def test_an_owner_sets_the_policy_and_reads_what_is_in_force(owner: Actor, base: str) -> None:
    assert owner.get(f"{base}/retention").json() == {
        "policy": {},
        "effective": {
            "runs": {"keep_last": 500},
            "steps": {},
            "events": {"days": 30.0},
            "tool_calls": {},
            "artifact_versions": {},
        },
        "caps": {"max_days": 90.0, "max_keep_last": 1000},
    }
    policy = {"events": {"days": 7}, "runs": {"days": 60, "keep_last": 100}}
    answer = put(owner, f"{base}/retention", policy)
    assert answer.status_code == 200, answer.text
    assert answer.json()["policy"] == {
        "events": {"days": 7.0},
        "runs": {"days": 60.0, "keep_last": 100},
    }
    assert answer.json()["effective"]["events"] == {"days": 7.0}
    assert answer.json()["effective"]["runs"] == {"days": 60.0, "keep_last": 100}
    assert owner.get(f"{base}/retention").json() == answer.json()
    # An empty policy gives the app the server's again.
    assert put(owner, f"{base}/retention", {}).json()["effective"]["runs"] == {"keep_last": 500}


BAD_POLICIES = [
    ({"events": {"days": -1}}, "invalid_input", "body.events.days: Input should be greater"),
    ({"runs": {"keep_last": -5}}, "invalid_input", "body.runs.keep_last: Input should be"),
    ({"events": {"days": "soon"}}, "invalid_input", "body.events.days: Input should be"),
    # Found by schemathesis: `false` was taken as 0 (keep none).
    (
        {"artifact_versions": {"keep_last": False}},
        "invalid_input",
        "body.artifact_versions.keep_last: Value error, Input should be a valid number, not true",
    ),
    ({"events": {"days": True}}, "invalid_input", "body.events.days: Value error"),
    ({"logs": {"days": 1}}, "invalid_input", "body.logs: Extra inputs are not permitted"),
    ({"events": {"weeks": 1}}, "invalid_input", "body.events.weeks: Extra inputs"),
    ({"events": {"days": 91}}, "limit_too_high", "events.days is 91; this server keeps"),
    ({"runs": {"keep_last": 1001}}, "limit_too_high", "runs.keep_last is 1001; this server"),
]


def test_a_bad_policy_is_422_with_what_to_change(owner: Actor, base: str) -> None:
    for body, code, says in BAD_POLICIES:
        answer = put(owner, f"{base}/retention", body)
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == code
        assert error["message"].startswith(says), error["message"]
        if code == "limit_too_high":
            assert error["details"]["setting"].startswith("PODIUM_RETENTION_MAX_")
    assert owner.get(f"{base}/retention").json()["policy"] == {}  # nothing was stored


def test_members_and_other_apps_cannot_touch_it(owner: Actor, base: str, make_user: Any) -> None:
    member, viewer, stranger = make_user("mia"), make_user("vic"), make_user("sam")
    add_member(owner, base, member, "member")
    add_member(owner, base, viewer, "viewer")
    for actor in (member, viewer):
        assert actor.get(f"{base}/retention").status_code == 403
        refused = put(actor, f"{base}/retention", {"events": {"days": 1}})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    stranger.create_app("elsewhere")
    for answer in (
        stranger.get(f"{base}/retention"),
        put(stranger, f"{base}/retention", {"events": {"days": 1}}),
    ):
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
        assert "events" not in answer.text
    assert owner.get(f"{base}/retention").json()["policy"] == {}


def test_a_since_older_than_the_log_is_410_log_truncated(owner: Actor, base: str) -> None:
    assert owner.post(f"{base}/flows", CHAIN_FLOW).status_code == 201
    for _ in range(2):
        created = owner.post(f"{base}/sessions", {"flow": "chain"}).json()
        run = owner.get(f"{base}/runs/{created['run_id']}/wait{WAIT}").json()
        assert run["status"] == "succeeded"
    last = owner.get(f"{base}/events", params={"limit": 1000}).json()["next_since"]
    # The server keeps events 30 days: the app says 0 days, and keeps only its last 3.
    keep_three = {"events": {"days": 0, "keep_last": 3}}
    assert put(owner, f"{base}/retention", keep_three).status_code == 200
    services = owner.client.app.state.services  # type: ignore[attr-defined]
    app_id = base.rsplit("/", 1)[1]
    report = owner.client.portal.call(lambda: services.retention.prune(app_id=app_id))  # type: ignore[union-attr]
    assert report.apps[app_id]["events"] == last - 3
    oldest = last - 2

    refused = owner.get(f"{base}/events", params={"since": 1})
    assert refused.status_code == 410, refused.text
    assert refused.json()["error"]["code"] == "log_truncated"
    assert refused.json()["error"]["details"] == {"since": 1, "oldest_seq": oldest}
    resumed = {**owner.headers, "Last-Event-ID": "2", "Accept": "text/event-stream"}
    sse = owner.client.get(f"{base}/events", headers=resumed)
    assert sse.status_code == 410 and sse.json()["error"]["details"]["since"] == 2

    # At the edge, and from the start (since=0): what is kept, with no gap.
    for since in (oldest - 1, 0):
        page = owner.get(f"{base}/events", params={"since": since}).json()
        assert [e["seq"] for e in page["items"]] == [oldest, oldest + 1, oldest + 2]

    token = owner.access_token
    with owner.client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        ws.send_json({"type": "subscribe", "id": "s", "data": {"app_id": app_id, "since": 1}})
        while (message := ws.receive_json()).get("id") != "s":
            pass
        assert message["type"] == "error" and message["data"]["code"] == "log_truncated"
        assert message["data"]["details"]["oldest_seq"] == oldest
