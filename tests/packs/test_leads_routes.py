"""The leads routes over HTTP, in-process on every backend, on the offline model: submit
(and the 422s a form sees, with nothing stored), analyze (the rubric and the
lead_qualification agent through the leads_qualify flow), get, and list with filters and
pages. The pack is installed (entry point or PODIUM_PACKS) and enabled for the app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import fast_settings
from tests.packs.conftest import LEADS_MIGRATIONS, downgrade_pack, shipped_pack_specs

from podium.api.app import create_app
from podium.assembly import default_registry

PASSWORD = "correct horse battery"
FORM = {
    "name": "Ada Lovelace",
    "email": "ada@analytical.example",
    "company": "Analytical Engines",
    "message": "We need a web shop before our launch next month; ready to start asap.",
    "service": "web_development",
    "budget": 60_000,
}


class Leads:
    """An app's admin calling the leads routes."""

    def __init__(self, client: TestClient, token: str, app_id: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.app_id = app_id
        self.base = f"/api/v1/apps/{app_id}"
        self.leads = f"{self.base}/packs/leads/leads"

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post(path, json=body, headers=self.headers)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.headers)


async def _create_admin(client: TestClient) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    await services.auth.create_user("root@example.com", "root", PASSWORD, is_admin=True)


@pytest.fixture
def shop(database_url: str) -> Iterator[Leads]:
    settings = fast_settings(
        database_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        rate_limit="100000/minute",
        packs=shipped_pack_specs(),
    )
    app = create_app(settings, workers=2, registry=default_registry(settings))
    with TestClient(app) as client:
        client.portal.call(_create_admin, client)  # type: ignore[union-attr]
        login = client.post("/api/v1/auth/login", json={"identifier": "root", "password": PASSWORD})
        token = login.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        app_id = client.post("/api/v1/apps", json={"name": "shop"}, headers=headers).json()["id"]
        shop = Leads(client, token, app_id)
        refused = shop.get(shop.leads)
        assert refused.status_code == 404
        assert refused.json()["error"]["message"] == (
            f"pack 'leads' is not enabled for this app; PUT /api/v1/apps/{app_id}/packs/leads"
        )
        enabled = client.put(f"{shop.base}/packs/leads", headers=headers)
        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["flows"] == ["leads_qualify"]
        yield shop
    if not database_url.startswith("sqlite"):
        downgrade_pack(database_url, LEADS_MIGRATIONS, "leads")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"email": "ada@"},
            "body.email: Value error, 'ada@' is not an e-mail address; send "
            "one like name@example.com",
        ),
        ({"name": " "}, "body.name: Value error, must not be empty; send some text"),
        (
            {"service": "magic"},
            "body.service: Input should be 'web_development', 'mobile_app', "
            "'ecommerce', 'digital_marketing', 'seo', 'branding', 'consulting' or 'other'",
        ),
        ({"budget": -1}, "body.budget: Input should be greater than or equal to 0"),
        (
            {"budget": "lots"},
            "body.budget: Input should be a valid integer, unable to parse string as an integer",
        ),
        ({"message": None}, "body.message: Input should be a valid string"),
        ({"phone": "555"}, "body.phone: Extra inputs are not permitted"),
    ],
)
def test_an_invalid_submission_is_refused_with_its_reason_and_not_stored(
    shop: Leads, change: dict[str, Any], message: str
) -> None:
    response = shop.post(shop.leads, {**FORM, **change})
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("invalid_input", message)
    assert shop.get(shop.leads).json() == {"items": [], "next_cursor": None}


def test_a_missing_field_is_named(shop: Leads) -> None:
    body = {key: value for key, value in FORM.items() if key != "email"}
    error = shop.post(shop.leads, body).json()["error"]
    assert error["message"] == "body.email: Field required"


def test_submit_analyze_get_and_list(shop: Leads) -> None:
    submitted = shop.post(shop.leads, FORM)
    assert submitted.status_code == 201, submitted.text
    lead = submitted.json()
    assert (lead["status"], lead["score"], lead["followups"]) == ("new", None, {})

    analyzed = shop.post(f"{shop.leads}/{lead['id']}/analyze")
    assert analyzed.status_code == 200, analyzed.text
    body = analyzed.json()
    done = body["lead"]
    assert (done["status"], done["score"], done["tier"]) == ("analyzed", 88, "hot")
    assert [f["factor"] for f in done["reasoning"]] == [
        "budget",
        "service fit",
        "detail",
        "intent",
        "company",
    ]
    # The offline model echoes the agent's task: the lead and the rubric's score.
    assert done["agent_notes"].startswith("Qualify this sales lead")
    assert (
        "Rubric score: 88/100 (hot): budget 35/35, service fit 20/20, detail 8/20"
        in done["agent_notes"]
    )
    assert done["analysis_session_id"] == body["session_id"]
    read = shop.get(f"{shop.leads}/{lead['id']}").json()
    # The same lead, but for its follow-ups, which the handlers record meanwhile.
    changing = ("followups", "updated_at")
    assert {k: v for k, v in read.items() if k not in changing} == {
        k: v for k, v in done.items() if k not in changing
    }
    run = shop.get(f"{shop.base}/runs/{body['run_id']}").json()
    assert run["status"] == "succeeded" and run["output"]["tier"] == "hot"
    events = shop.get(f"{shop.base}/events").json()["items"]
    types = [e["type"] for e in events if e["type"].startswith("lead.")]
    assert types == ["lead.submitted", "lead.analyzed"]

    # Without waiting, the answer is 202 with the lead still analyzing.
    again = shop.post(f"{shop.leads}/{lead['id']}/analyze?wait=0")
    assert again.status_code == 202 and again.json()["lead"]["status"] == "analyzing"


def test_list_filters_and_pages(shop: Leads) -> None:
    made = []
    for index, service in enumerate(["seo", "web_development", "seo"]):
        form = {**FORM, "name": f"Lead {index}", "service": service}
        made.append(shop.post(shop.leads, form).json())
    cold = {**FORM, "name": "Cold", "service": "other", "budget": None, "message": "hi"}
    made.append(shop.post(shop.leads, {**cold, "company": None, "email": "c@gmail.com"}).json())
    for lead in (made[1], made[3]):
        assert shop.post(f"{shop.leads}/{lead['id']}/analyze").status_code == 200

    def names(**params: Any) -> list[str]:
        response = shop.get(shop.leads, **params)
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()["items"]]

    assert names() == ["Cold", "Lead 2", "Lead 1", "Lead 0"]
    assert names(service="seo") == ["Lead 2", "Lead 0"]
    assert names(status="analyzed") == ["Cold", "Lead 1"]
    assert names(status="new") == ["Lead 2", "Lead 0"]
    assert names(min_score=70) == ["Lead 1"]
    assert names(max_score=39) == ["Cold"]
    assert names(min_score=0, max_score=100, service="other") == ["Cold"]
    first = shop.get(shop.leads, limit=3).json()
    second = shop.get(shop.leads, limit=3, cursor=first["next_cursor"]).json()
    assert [i["name"] for i in first["items"] + second["items"]] == names()
    assert second["next_cursor"] is None

    refusals = {
        "min_score": ({"min_score": 80, "max_score": 20}, 400),
        "limit": ({"limit": 101}, 422),
        "status": ({"status": "won"}, 422),
        "score": ({"min_score": 101}, 422),
    }
    for name, (params, status) in refusals.items():
        response = shop.get(shop.leads, **params)
        assert response.status_code == status, (name, response.text)
    bad_range = shop.get(shop.leads, min_score=80, max_score=20).json()["error"]["message"]
    assert bad_range == (
        "min_score 80 is above max_score 20; send a range whose minimum is at most its maximum"
    )
    limit = shop.get(shop.leads, limit=101).json()["error"]["message"]
    assert limit == "query.limit: Input should be less than or equal to 100"


def test_an_unknown_lead_is_404_and_analyzing_it_starts_nothing(shop: Leads) -> None:
    missing = shop.get(f"{shop.leads}/lead_nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == (
        "no lead 'lead_nope' in this app; list them with GET /packs/leads/leads"
    )
    assert shop.post(f"{shop.leads}/lead_nope/analyze").status_code == 404
    sessions = shop.get(f"{shop.base}/sessions", flow="leads_qualify").json()
    assert sessions["items"] == []
