"""Gates over HTTP and the WebSocket: workflow graphs per app, the 409 `prerequisite_not_met`
envelope on every way of starting a session, and a flow's prerequisites for the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import Actor, add_member

PACK = {
    "name": "appbuilder_pack",
    "description": "build, measure, market",
    "gates": [{"flow": "MarketingAutomation", "requires": ["AppBuilder"]}],
    "journeys": [
        {"name": "launch", "flows": ["AppBuilder", "MarketingAutomation", "RevenueDashboard"]}
    ],
}
FLOWS = ("AppBuilder", "MarketingAutomation", "RevenueDashboard")
REFUSED = {
    "error": {
        "code": "prerequisite_not_met",
        "message": "Please complete AppBuilder first",
        "details": {"missing": ["AppBuilder"]},
    }
}


def done_flow(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [{"id": "t", "type": "template", "config": {"template": "ok", "output_key": "o"}}],
    }


@dataclass
class Shop:
    """Alice's app with the pack's flows and graph; carol is a member."""

    client: TestClient
    alice: Actor
    carol: Actor
    app_id: str

    @property
    def base(self) -> str:
        return f"/api/v1/apps/{self.app_id}"

    def start(self, actor: Actor, flow: str, **extra: Any) -> Any:
        return actor.post(f"{self.base}/sessions", {"flow": flow, "input": {}, **extra})

    def complete(self, actor: Actor, flow: str) -> None:
        started = self.start(actor, flow)
        assert started.status_code == 201, started.text
        run = actor.get(f"{self.base}/runs/{started.json()['run_id']}/wait?timeout=20")
        assert run.json()["status"] == "succeeded", run.text
        session = actor.get(f"{self.base}/sessions/{started.json()['id']}").json()
        assert session["status"] == "completed"

    def key(self, role: str = "member") -> dict[str, str]:
        created = self.alice.post(f"{self.base}/api-keys", {"name": f"{role}-key", "role": role})
        assert created.status_code == 201, created.text
        return {"X-API-Key": created.json()["key"]}


@pytest.fixture
def shop(api: TestClient, make_user: Any) -> Shop:
    alice, carol = make_user("alice"), make_user("carol")
    app_id = alice.create_app("shop")
    shop = Shop(api, alice, carol, app_id)
    add_member(alice, shop.base, carol, "member")
    for flow in FLOWS:
        assert alice.post(f"{shop.base}/flows", done_flow(flow)).status_code == 201
    put = api.put(f"{shop.base}/workflow-graphs/appbuilder_pack", json=PACK, headers=alice.headers)
    assert put.status_code == 200, put.text
    return shop


def test_a_gated_flow_is_refused_with_the_409_envelope_until_that_user_completed_it(
    shop: Shop,
) -> None:
    refused = shop.start(shop.carol, "MarketingAutomation")
    assert (refused.status_code, refused.json()) == (409, REFUSED)
    shop.complete(shop.alice, "AppBuilder")  # another user's completion does not count
    assert shop.start(shop.carol, "MarketingAutomation").json() == REFUSED

    shop.complete(shop.carol, "AppBuilder")
    next_step = shop.start(shop.carol, "RevenueDashboard")  # the journey's next step waits
    assert next_step.json()["error"]["details"] == {"missing": ["MarketingAutomation"]}
    started = shop.start(shop.carol, "MarketingAutomation")
    assert started.status_code == 201, started.text
    assert started.json()["user_id"] == shop.carol.user["id"]


def test_the_prerequisites_route_explains_what_the_caller_still_has_to_complete(
    shop: Shop,
) -> None:
    path = f"{shop.base}/flows/MarketingAutomation/prerequisites"
    response = shop.carol.get(path)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "flow": "MarketingAutomation",
        "ok": False,
        "message": "Please complete AppBuilder first",
        "requires": ["AppBuilder"],
        "missing": ["AppBuilder"],
        "journeys": [
            {
                "graph": "appbuilder_pack",
                "name": "launch",
                "flows": list(FLOWS),
                "gated": True,
                "position": 1,
                "completed": [],
            }
        ],
    }
    shop.complete(shop.carol, "AppBuilder")
    after = shop.carol.get(path).json()
    assert (after["ok"], after["message"], after["missing"]) == (True, "", [])
    assert after["journeys"][0]["completed"] == ["AppBuilder"]
    assert shop.alice.get(path).json()["ok"] is False  # for the caller: alice did nothing yet

    open_flow = shop.carol.get(f"{shop.base}/flows/AppBuilder/prerequisites").json()
    assert (open_flow["ok"], open_flow["requires"], open_flow["journeys"][0]["position"]) == (
        True,
        [],
        0,
    )
    unknown = shop.carol.get(f"{shop.base}/flows/Nope/prerequisites")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    for_other = shop.carol.get(path, params={"user_id": shop.alice.user["id"]})
    assert for_other.status_code == 400
    assert "user_id is for API keys" in for_other.json()["error"]["message"]


def test_an_api_key_asks_and_starts_for_the_end_user_it_names(shop: Shop) -> None:
    key = shop.key()
    carol = shop.carol.user["id"]
    shop.complete(shop.carol, "AppBuilder")
    path = f"{shop.base}/flows/MarketingAutomation/prerequisites"
    asked = shop.client.get(path, params={"user_id": carol}, headers=key).json()
    assert (asked["ok"], asked["missing"]) == (True, [])
    nobody = shop.client.get(path, headers=key).json()
    assert nobody["ok"] is False
    assert nobody["message"] == (
        "Please complete AppBuilder first (a gated flow needs a user: pass user_id)"
    )

    sessions = f"{shop.base}/sessions"
    body = {"flow": "MarketingAutomation", "input": {}}
    for_carol = shop.client.post(sessions, json={**body, "user_id": carol}, headers=key)
    assert for_carol.status_code == 201, for_carol.text
    for_alice = shop.client.post(
        sessions, json={**body, "user_id": shop.alice.user["id"]}, headers=key
    )
    assert (for_alice.status_code, for_alice.json()) == (409, REFUSED)
    anonymous = shop.client.post(sessions, json=body, headers=key)
    assert anonymous.status_code == 409
    assert anonymous.json()["error"]["details"] == {"missing": ["AppBuilder"]}


def test_websocket_execution_start_is_refused_with_the_same_code(shop: Shop) -> None:
    token = shop.carol.access_token
    with shop.client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        assert ws.receive_json()["type"] == "connection.ready"
        data = {"app_id": shop.app_id, "flow": "MarketingAutomation"}
        ws.send_json({"type": "execution.start", "id": "go", "data": data})
        reply = ws.receive_json()
        assert reply == {"type": "error", "id": "go", "data": REFUSED["error"]}
        ws.send_json(
            {"type": "execution.start", "id": "ok", "data": {**data, "flow": "AppBuilder"}}
        )
        assert ws.receive_json()["type"] == "execution.started"


def test_chat_is_refused_when_its_flow_is_gated(shop: Shop) -> None:
    gate = {"gates": [{"flow": "chat", "requires": ["AppBuilder"], "message": "Build first"}]}
    put = shop.client.put(
        f"{shop.base}/workflow-graphs/chat_gate", json=gate, headers=shop.alice.headers
    )
    assert put.status_code == 200, put.text
    refused = shop.carol.post(f"{shop.base}/chat/messages", {"message": "hello"})
    assert refused.status_code == 409
    assert refused.json()["error"] == {
        "code": "prerequisite_not_met",
        "message": "Build first",
        "details": {"missing": ["AppBuilder"]},
    }


def test_workflow_graphs_are_put_read_listed_and_deleted_by_admins(shop: Shop) -> None:
    path = f"{shop.base}/workflow-graphs/appbuilder_pack"
    graph = shop.carol.get(path)  # members read
    assert graph.status_code == 200, graph.text
    body = graph.json()
    assert body.pop("updated_at") > 0
    assert body == {
        "name": "appbuilder_pack",
        "description": "build, measure, market",
        "gates": [{"flow": "MarketingAutomation", "requires": ["AppBuilder"], "message": None}],
        "journeys": [{"name": "launch", "flows": list(FLOWS), "gated": True}],
    }
    listed = shop.carol.get(f"{shop.base}/workflow-graphs").json()
    assert [g["name"] for g in listed] == ["appbuilder_pack"]

    as_member = shop.client.put(path, json=PACK, headers=shop.carol.headers)
    assert as_member.status_code == 403
    assert shop.carol.delete(path).status_code == 403

    invalid = {"gates": [{"flow": "A", "requires": ["A"]}], "journeys": [{"name": "j"}]}
    refused = shop.client.put(path, json=invalid, headers=shop.alice.headers)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "workflow_graph_invalid"
    assert error["details"]["problems"] == ["journeys[0].flows: missing"]
    wrong_name = shop.client.put(path, json={"name": "other"}, headers=shop.alice.headers)
    assert wrong_name.status_code == 422
    assert shop.carol.get(path).json()["gates"] == body["gates"]  # unchanged

    assert shop.alice.delete(path).status_code == 204
    assert shop.carol.get(path).status_code == 404
    assert shop.alice.delete(path).status_code == 404
    assert shop.start(shop.carol, "MarketingAutomation").status_code == 201


def test_app_b_cannot_read_or_change_app_as_graphs(shop: Shop, make_user: Any) -> None:
    bob = make_user("bob")
    b_base = f"/api/v1/apps/{bob.create_app('other')}"
    a_graph = f"{shop.base}/workflow-graphs/appbuilder_pack"
    attempts = [
        bob.get(a_graph),
        bob.get(f"{shop.base}/workflow-graphs"),
        bob.get(f"{b_base}/workflow-graphs/appbuilder_pack"),
        bob.client.put(a_graph, json={"gates": []}, headers=bob.headers),
        bob.delete(a_graph),
        bob.delete(f"{b_base}/workflow-graphs/appbuilder_pack"),
        bob.get(f"{shop.base}/flows/MarketingAutomation/prerequisites"),
        bob.get(f"{b_base}/flows/MarketingAutomation/prerequisites"),
    ]
    for response in attempts:
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
        assert "AppBuilder" not in response.text and "launch" not in response.text
    assert bob.get(f"{b_base}/workflow-graphs").json() == []
    # A's graph is as alice left it, and still gates A's flow.
    assert shop.alice.get(a_graph).json()["gates"][0]["requires"] == ["AppBuilder"]
    assert shop.start(shop.carol, "MarketingAutomation").status_code == 409
