"""`/apps/{app_id}/webhooks` (docs/webhooks.md) through the server: the secret is answered
once; the server's workers deliver a finished run to a loopback receiver (allowed by
PODIUM_EGRESS_ALLOW) signed so that `verify_signature` accepts it; the delivery log shows it;
a blocked address, a bad URL or event type are refused; only the app's admins reach them."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import CHAIN_FLOW, Actor, api_settings

from podium.config import Settings
from podium.webhooks import verify_signature
from support.webhook_receiver import Receiver


@pytest.fixture
def api_config(database_url: str) -> Settings:
    return api_settings(database_url, egress_allow=["127.0.0.1"], webhook_poll_seconds=0.05)


def test_a_webhook_delivers_a_finished_run(api: TestClient, make_user: Any) -> None:
    alice: Actor = make_user("alice")
    base = f"/api/v1/apps/{alice.create_app('hooks')}"
    assert alice.post(f"{base}/flows", CHAIN_FLOW).status_code == 201
    with Receiver() as receiver:
        created = alice.post(f"{base}/webhooks", {"url": receiver.url, "events": ["run.succeeded"]})
        assert created.status_code == 201, created.text
        hook = created.json()
        secret = hook.pop("secret")
        assert secret.startswith("whsec_") and hook["enabled"] is True
        url = f"{base}/webhooks/{hook['id']}"
        assert (
            secret not in alice.get(url).text and secret not in alice.get(f"{base}/webhooks").text
        )

        session = alice.post(f"{base}/sessions", {"flow": "chain", "input": {}}).json()
        deadline = time.monotonic() + 20
        while not receiver.deliveries and time.monotonic() < deadline:
            time.sleep(0.05)
        [delivery] = receiver.deliveries
        headers = {key.lower(): value for key, value in delivery.headers.items()}
        verify_signature(
            secret, delivery.body, headers["podium-timestamp"], headers["podium-signature"]
        )
        body = json.loads(delivery.body)
        assert body["event"]["run_id"] == session["run_id"] and body["type"] == "run.succeeded"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            logged = alice.get(f"{url}/deliveries").json()
            if logged and logged[0]["status"] == "succeeded":
                break
            time.sleep(0.05)
        assert [(d["status"], d["response_code"], d["attempts"]) for d in logged] == [
            ("succeeded", 200, 1)
        ]
        assert logged[0]["id"] == body["delivery_id"] == headers["podium-delivery"]

    changed = alice.patch(url, {"events": ["run.failed", "schedule.fired"]})
    assert changed.status_code == 200 and changed.json()["events"] == [
        "run.failed",
        "schedule.fired",
    ]
    assert alice.delete(url).status_code == 204
    assert alice.get(url).status_code == 404


def test_bad_webhooks_and_who_may(api: TestClient, make_user: Any) -> None:
    alice: Actor = make_user("alice")
    base = f"/api/v1/apps/{alice.create_app('hooks')}"
    for body, status, code, says in (
        ({"url": "http://10.1.2.3/x", "events": ["run.failed"]}, 422, "egress_refused", "private"),
        ({"url": "http://[::1]:8/x", "events": ["run.failed"]}, 422, "egress_refused", "loopback"),
        (
            {"url": "file:///etc/passwd", "events": ["run.failed"]},
            422,
            "webhook_invalid",
            "http(s)",
        ),
        ({"url": "https://example.com/x", "events": ["nope"]}, 422, "webhook_invalid", "'nope'"),
        ({"url": "https://example.com/x", "events": []}, 422, "invalid_input", ""),
    ):
        answer = alice.post(f"{base}/webhooks", body)
        assert answer.status_code == status, answer.text
        assert answer.json()["error"]["code"] == code and says in answer.text
    assert alice.get(f"{base}/webhooks").json() == []
    made = alice.post(
        f"{base}/webhooks", {"url": "https://example.com/x", "events": ["run.failed"]}
    )
    url = f"{base}/webhooks/{made.json()['id']}"
    member = make_user("mel")
    invited = alice.post(f"{base}/members", {"user": member.user["id"], "role": "member"})
    assert member.post(f"/api/v1/invitations/{invited.json()['id']}/accept").status_code == 200
    for answer in (
        member.get(f"{base}/webhooks"),
        member.get(url),
        member.get(f"{url}/deliveries"),
        member.patch(url, {"enabled": False}),
        member.delete(url),
        member.post(f"{base}/webhooks", {"url": "https://example.com/y", "events": ["run.failed"]}),
    ):
        assert answer.status_code == 403, answer.text
    assert alice.get(url).json()["enabled"] is True
