"""The AppBuilder pack over a live server on the offline model: the journey with its gate
(409 before AppBuilder is completed, success after), `launch_workflow` from the artifact's
buttons, artifacts updating live over the WebSocket, and the marketplace and challenge
flows that wait for actions. The pure rules of journey.py are tested first."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from tests.packs.conftest import Client

from podium.errors import InvalidInput
from podium.packs.appbuilder import journey

GATE_REFUSAL = {
    "code": "prerequisite_not_met",
    "message": "Please complete AppBuilder first",
    "details": {"missing": ["AppBuilder"]},
}


# --- the rules --------------------------------------------------------------------------


def test_features_come_from_the_idea_or_the_input_or_the_defaults() -> None:
    idea = "a shop with payments, reviews and search"
    assert journey.features_of(idea) == ["Payments", "Reviews", "Search"]
    assert journey.features_of(idea, ["Chat"]) == ["Chat"]
    assert journey.features_of("a shop") == list(journey.DEFAULT_FEATURES)


def test_each_stage_moves_the_build_a_quarter_and_shows_features_as_code_is_written() -> None:
    features = ["A", "B", "C"]
    updates = [journey.stage_update(i, features) for i in range(len(journey.STAGES))]
    assert [u["build_progress"] for u in updates] == [25, 50, 75, 100]
    assert [u["current_stage"] for u in updates] == ["code", "test", "deploy", "done"]
    assert [len(u["features"]) for u in updates] == [0, 1, 2, 3]
    assert updates[-1]["completed_stages"] == list(journey.STAGES)


def test_revenue_and_chart_data_add_up() -> None:
    apps = journey.revenue_apps({"apps": [{"name": "A", "revenue": 300}, {"name": "B"}]}, None)
    assert apps == [{"name": "A", "revenue": 300.0}, {"name": "B", "revenue": 0.0}]
    chart = journey.chart_data(apps)
    assert chart["labels"] == ["A", "B"] and chart["series"][0]["data"] == [300.0, 0.0]
    assert chart["share_percent"] == [100.0, 0.0]
    launched = journey.revenue_apps({}, {"app_name": "Shop", "revenue_to_date": 12.5})
    assert launched == [{"name": "Shop", "revenue": 12.5}]
    assert journey.revenue_apps({}, None) == []


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"apps": "x"}, "input 'apps' must be a list of {name, revenue} objects"),
        ({"apps": [{"revenue": 1}]}, "input apps[0] must be an object with a string 'name'"),
        (
            {"apps": [{"name": "A", "revenue": -1}]},
            "input apps[0].revenue must be a number of at least 0, not -1",
        ),
        (
            {"apps": [{"name": "A"}] * (journey.MAX_APPS + 1)},
            f"input 'apps' has {journey.MAX_APPS + 1} items; send at most {journey.MAX_APPS}",
        ),
    ],
)
def test_bad_revenue_input_is_refused_with_what_to_send(inputs: dict, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        journey.revenue_apps(inputs, None)
    assert refused.value.message == message


def test_text_inputs_are_capped() -> None:
    long = "x" * (journey.MAX_NAME_CHARS + 1)
    with pytest.raises(InvalidInput, match="send at most 120"):
        journey.text_field({"app_name": long}, "app_name", "")
    with pytest.raises(InvalidInput, match="must be a list of strings"):
        journey.text_list({"steps": "one"}, "steps", 3)
    with pytest.raises(InvalidInput, match="has 4 items; send at most 3"):
        journey.text_list({"steps": ["a", "b", "c", "d"]}, "steps", 3)


def test_a_challenge_completes_stage_by_stage() -> None:
    steps = ["one", "two"]
    assert journey.challenge_update(steps, 0)["current_step"] == "one"
    half = journey.challenge_update(steps, 1)
    assert half["progress"] == 50.0 and half["stages"][0] == {"name": "one", "done": True}
    assert "status" not in half
    done = journey.challenge_update(steps, 2)
    assert done["status"] == "completed" and done["buttons"] == [] and done["progress"] == 100.0


def test_campaigns_split_the_budget_to_the_cent() -> None:
    campaigns = journey.campaigns_for("Shop", ["email", "social", "seo"], 100.0)
    assert [c["budget"] for c in campaigns] == [33.34, 33.33, 33.33]
    assert sum(c["budget"] for c in campaigns) == pytest.approx(100.0)
    assert journey.campaigns_for("Shop", [], 10.0) == []


# --- the journey on a live server ---------------------------------------------------------


@pytest.fixture
def shop(client: Client) -> Client:
    status, _ = client.request("POST", "/sessions", {"flow": "AppBuilder"})
    assert status == 404  # nothing of the pack until the app enables it
    enabled = client.enable("appbuilder")
    assert enabled["enabled"] is True
    assert enabled["flows"] == [
        "AppBuilder",
        "ChallengeTracker",
        "InvestmentMarketplace",
        "MarketingAutomation",
        "RevenueDashboard",
    ]
    graph = client.call("GET", "/workflow-graphs/appbuilder")
    assert graph["gates"] == [
        {
            "flow": "MarketingAutomation",
            "requires": ["AppBuilder"],
            "message": "Please complete AppBuilder first",
        }
    ]
    return client


class Socket:
    """A WebSocket on the live server, subscribed to the app's events."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, shop: Client, **subscription: Any) -> Socket:
        url = f"ws://127.0.0.1:{shop.server.port}/api/v1/ws?token={shop.token}"
        socket = cls(await websockets.connect(url))
        assert (await socket.receive())["type"] == "connection.ready"
        data = {"app_id": shop.app_id, **subscription}
        await socket.ws.send(json.dumps({"type": "subscribe", "id": "sub", "data": data}))
        while (reply := await socket.receive()).get("id") != "sub":
            pass
        assert reply["type"] == "subscribed", reply
        return socket

    async def receive(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), 20))
        return message

    async def artifact_events(self, artifact_type: str, until: Any) -> list[dict[str, Any]]:
        """The artifact events of the first artifact of `artifact_type`, until `until(state)`
        holds for the state the updates have built."""
        artifact_id, state, seen = None, {}, []
        while True:
            message = await self.receive()
            if message["type"] != "event":
                continue
            event = message["data"]
            data = event["data"]
            if event["type"] == "artifact.created" and data["type"] == artifact_type:
                artifact_id, state = data["artifact_id"], dict(data["state"])
                seen.append(event)
            elif event["type"] == "artifact.state.updated" and data["artifact_id"] == artifact_id:
                state = {**state, **data["patch"]}
                seen.append(event)
            if artifact_id is not None and until(state):
                return seen


async def call(shop: Client, method: str, path: str, body: Any = None) -> Any:
    return await asyncio.to_thread(shop.call, method, path, body)


async def request(shop: Client, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    return await asyncio.to_thread(shop.request, method, path, body)


async def wait(shop: Client, run_id: str) -> dict[str, Any]:
    return await asyncio.to_thread(shop.wait, run_id)


@pytest.mark.slow
async def test_the_journey_gate_buttons_and_live_artifact(shop: Client) -> None:
    # Before AppBuilder: MarketingAutomation is refused, by POST /sessions and by a button.
    status, refused = await request(shop, "POST", "/sessions", {"flow": "MarketingAutomation"})
    assert (status, refused) == (409, {"error": GATE_REFUSAL})
    button = await call(
        shop,
        "POST",
        "/artifacts",
        {"type": "Note", "initial_state": {"buttons": [{"workflow": "MarketingAutomation"}]}},
    )
    status, refused = await request(
        shop,
        "POST",
        f"/artifacts/{button['id']}/actions",
        {"action": "launch_workflow", "payload": {"workflow": "MarketingAutomation"}},
    )
    assert (status, refused) == (409, {"error": GATE_REFUSAL})
    listed = await call(shop, "GET", "/sessions?flow=MarketingAutomation")
    assert listed["items"] == []  # nothing was started

    # AppBuilder, watched live: the artifact goes through every stage, in version order.
    socket = await Socket.open(shop)
    idea = {"app_name": "ShopFlow", "idea": "a shop with payments, reviews and search"}
    session = await call(shop, "POST", "/sessions", {"flow": "AppBuilder", "input": idea})
    events = await socket.artifact_events(
        "AppBuilderArtifact", lambda state: state.get("deployment_status") == "ready_to_deploy"
    )
    assert events[0]["type"] == "artifact.created"
    versions = [e["data"]["version"] for e in events[1:]]
    assert versions == list(range(2, len(events) + 1))
    progress = [
        e["data"]["patch"]["build_progress"]
        for e in events
        if "build_progress" in e["data"].get("patch", {})
    ]
    assert progress == [25, 50, 75, 100]
    await socket.ws.close()
    run = await wait(shop, session["run_id"])
    assert run["status"] == "succeeded", run
    assert run["output"]["features"] == ["Payments", "Reviews", "Search"]
    done = await call(shop, "GET", f"/sessions/{session['id']}")
    assert done["status"] == "completed"
    (artifact,) = (await call(shop, "GET", f"/artifacts?session_id={session['id']}"))["items"]
    state = artifact["state"]
    assert state["build_progress"] == 100 and state["completed_stages"] == list(journey.STAGES)
    # The offline model's plan (echo: the prompt it was given) is the architecture.
    assert state["architecture"].startswith("Plan the architecture of the app ShopFlow")
    assert [b["workflow"] for b in state["buttons"]] == ["RevenueDashboard", "MarketingAutomation"]

    # "View Revenue": the button launches RevenueDashboard for the user, about this app.
    actions = f"/artifacts/{artifact['id']}/actions"
    launch = {"action": "launch_workflow", "payload": {"workflow": "RevenueDashboard"}}
    launched = await call(shop, "POST", actions, launch)
    dashboard_run = await wait(shop, launched["run_id"])
    assert dashboard_run["status"] == "succeeded", dashboard_run
    dashboard_session = await call(shop, "GET", f"/sessions/{launched['session_id']}")
    assert dashboard_session["metadata"]["launched_from"]["artifact_id"] == artifact["id"]
    dashboard = await call(shop, "GET", f"/artifacts/{dashboard_run['output']['artifact_id']}")
    assert dashboard["state"]["apps"] == [{"name": "ShopFlow", "revenue": 0.0}]
    assert dashboard["state"]["chart_data"]["labels"] == ["ShopFlow"]

    # After AppBuilder: the same refusals now start MarketingAutomation.
    launch = {"action": "launch_workflow", "payload": {"workflow": "MarketingAutomation"}}
    launched = await call(shop, "POST", actions, launch)
    marketing = await wait(shop, launched["run_id"])
    assert marketing["status"] == "succeeded", marketing
    assert [c["channel"] for c in marketing["output"]["campaigns"]] == ["email", "social", "seo"]
    board = await call(shop, "GET", f"/artifacts/{marketing['output']['artifact_id']}")
    assert board["state"]["app_name"] == "ShopFlow"
    assert board["state"]["target_audience"].startswith("Describe in two sentences")
    direct = {"flow": "MarketingAutomation", "input": {"app_name": "Other", "budget": 90}}
    started = await call(shop, "POST", "/sessions", direct)
    run = await wait(shop, started["run_id"])
    assert [c["budget"] for c in run["output"]["campaigns"]] == [30.0, 30.0, 30.0]


@pytest.mark.slow
async def test_revenue_dashboard_totals_the_apps_it_is_given(shop: Client) -> None:
    apps = [{"name": "A", "revenue": 1200.5}, {"name": "B", "revenue": 799.5}]
    session = await call(
        shop, "POST", "/sessions", {"flow": "RevenueDashboard", "input": {"apps": apps}}
    )
    run = await wait(shop, session["run_id"])
    assert run["output"]["total_revenue"] == 2000.0
    dashboard = await call(shop, "GET", f"/artifacts/{run['output']['artifact_id']}")
    assert dashboard["state"]["chart_data"]["series"][0]["data"] == [1200.5, 799.5]
    assert dashboard["state"]["loading"] is False
    bad = await call(
        shop, "POST", "/sessions", {"flow": "RevenueDashboard", "input": {"apps": [{"x": 1}]}}
    )
    failed = await wait(shop, bad["run_id"])
    assert failed["status"] == "failed"
    assert "input apps[0] must be an object with a string 'name'" in json.dumps(failed["error"])


@pytest.mark.slow
async def test_a_challenge_advances_live_with_each_button_press(shop: Client) -> None:
    steps = ["design", "code", "ship"]
    body = {"flow": "ChallengeTracker", "input": {"title": "Ship it", "steps": steps}}
    session = await call(shop, "POST", "/sessions", body)
    assert (await wait(shop, session["run_id"]))["status"] == "interrupted"
    (artifact,) = (await call(shop, "GET", f"/artifacts?session_id={session['id']}"))["items"]
    assert artifact["state"]["current_step"] == "design" and artifact["state"]["progress"] == 0

    socket = await Socket.open(shop, artifact_id=artifact["id"], since=0)
    seen = await socket.artifact_events("ChallengeTracker", lambda state: True)
    assert seen[0]["type"] == "artifact.created"
    progress = []
    actions = f"/artifacts/{artifact['id']}/actions"
    for _ in steps:
        # An action reaches the runs waiting for it when it is sent: click once the run waits.
        assert (await wait(shop, session["run_id"]))["status"] == "interrupted"
        sent = await call(shop, "POST", actions, {"action": "complete_step"})
        assert sent["runs"] == [session["run_id"]]
        while True:  # the update arrives live, pushed by the server
            message = await socket.receive()
            if message["type"] == "event" and message["data"]["type"] == "artifact.state.updated":
                progress.append(message["data"]["data"]["patch"]["progress"])
                break
    await socket.ws.close()
    assert progress == [33.3, 66.7, 100.0]
    run = await wait(shop, session["run_id"])
    assert run["status"] == "succeeded" and run["output"]["completed_steps"] == 3
    final = await call(shop, "GET", f"/artifacts/{artifact['id']}")
    assert final["state"]["status"] == "completed" and final["state"]["buttons"] == []
    assert (await call(shop, "GET", f"/sessions/{session['id']}"))["status"] == "completed"


@pytest.mark.slow
async def test_the_marketplace_lists_built_apps_and_records_an_investment(shop: Client) -> None:
    build = {"flow": "AppBuilder", "input": {"app_name": "Tiny"}}
    built = await call(shop, "POST", "/sessions", build)
    assert (await wait(shop, built["run_id"]))["status"] == "succeeded"
    session = await call(shop, "POST", "/sessions", {"flow": "InvestmentMarketplace"})
    assert (await wait(shop, session["run_id"]))["status"] == "interrupted"
    (market,) = (await call(shop, "GET", f"/artifacts?session_id={session['id']}"))["items"]
    assert [app["name"] for app in market["state"]["apps"]] == ["Tiny"]
    actions = f"/artifacts/{market['id']}/actions"

    wrong = await call(shop, "POST", actions, {"action": "invest", "payload": {"app": "Nope"}})
    assert wrong["runs"] == [session["run_id"]]
    await wait(shop, session["run_id"])
    refused = await call(shop, "GET", f"/artifacts/{market['id']}")
    assert refused["state"]["error"] == "invest needs payload.app, one of the listed apps (Tiny)"
    assert refused["state"]["status"] == "open"

    good = {"action": "invest", "payload": {"app": "Tiny", "amount": 250}}
    await call(shop, "POST", actions, good)
    run = await wait(shop, session["run_id"])
    assert run["status"] == "succeeded", run
    final = await call(shop, "GET", f"/artifacts/{market['id']}")
    assert final["state"]["status"] == "invested" and final["state"]["investment_amount"] == 250.0
    assert final["state"]["selected_app"]["name"] == "Tiny" and "error" not in final["state"]
