"""The leads table and service on a real store (SQLite, and PostgreSQL when configured) with
the pack's migration applied by Alembic: submit with its event, get, list with filters and
pages, analysis, follow-ups, and one app never seeing another's leads."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from podium.errors import InvalidInput, NotFound
from podium.packs.leads.schemas import LeadCreate
from podium.packs.leads.service import SUBMITTED, Leads
from podium.packs.leads.tables import LeadFilter
from podium.storage.store import Store


def lead(**fields: Any) -> LeadCreate:
    values: dict[str, Any] = {
        "name": "Ada Lovelace",
        "email": "ada@analytical.example",
        "company": "Analytical Engines",
        "message": "We need a web shop before our launch next month.",
        "service": "web_development",
        "budget": 25_000,
    }
    values.update(fields)
    return LeadCreate(**values)


async def test_submit_stores_the_lead_and_emits_lead_submitted(leads_store: Store) -> None:
    app_id = await leads_store.ensure_app("shop")
    leads = Leads(leads_store)
    made = await leads.submit(app_id, lead(), "usr_1")
    assert made.id.startswith("lead_") and made.status == "new"
    assert (made.score, made.tier, made.reasoning, made.followups) == (None, None, None, {})
    assert (await leads.get(app_id, made.id)) == made
    events = [e for e in await leads_store.read_events(app_id) if e.type == SUBMITTED]
    assert [e.data for e in events] == [
        {"lead_id": made.id, "service": "web_development", "budget": 25_000}
    ]


async def test_another_apps_lead_is_not_found_nor_listed(leads_store: Store) -> None:
    mine = await leads_store.ensure_app("mine")
    theirs = await leads_store.ensure_app("theirs")
    leads = Leads(leads_store)
    secret = await leads.submit(theirs, lead(name="Their Lead"), None)
    with pytest.raises(NotFound) as missing:
        await leads.get(mine, secret.id)
    assert missing.value.message == (
        f"no lead {secret.id!r} in this app; list them with GET /packs/leads/leads"
    )
    assert (await leads.list(mine, LeadFilter(), 10, None)) == ([], None)
    with pytest.raises(NotFound):
        await leads.start_analysis(mine, secret.id, "ses_x", 0.0)
    with pytest.raises(NotFound):
        await leads.record_followup(mine, secret.id, "crm", {"status": "ok"})
    assert (await leads.get(theirs, secret.id)).followups == {}


async def test_list_filters_and_pages_newest_first(leads_store: Store) -> None:
    app_id = await leads_store.ensure_app("shop")
    leads = Leads(leads_store)
    made = []
    for index, service in enumerate(["seo", "web_development", "seo", "branding", "seo"]):
        made.append(await leads.submit(app_id, lead(name=f"Lead {index}", service=service), None))
    scored = made[1]
    await leads.record_analysis(app_id, scored.id, "notes")

    everything, cursor = await leads.list(app_id, LeadFilter(), 2, None)
    assert [r.name for r in everything] == ["Lead 4", "Lead 3"] and cursor is not None
    second, cursor = await leads.list(app_id, LeadFilter(), 2, cursor)
    third, end = await leads.list(app_id, LeadFilter(), 2, cursor)
    assert [r.name for r in second + third] == ["Lead 2", "Lead 1", "Lead 0"] and end is None

    seo, _ = await leads.list(app_id, LeadFilter(service="seo"), 10, None)
    assert [r.name for r in seo] == ["Lead 4", "Lead 2", "Lead 0"]
    analyzed, _ = await leads.list(app_id, LeadFilter(status="analyzed"), 10, None)
    assert [r.id for r in analyzed] == [scored.id]
    assert scored.id in [
        r.id for r in (await leads.list(app_id, LeadFilter(min_score=1), 9, None))[0]
    ]
    above = (await leads.list(app_id, LeadFilter(min_score=100), 9, None))[0]
    assert above == []  # this lead scores below 100, and unscored leads never match a range
    with pytest.raises(InvalidInput, match="pass the next_cursor of the previous page"):
        await leads.list(app_id, LeadFilter(), 2, "not-a-cursor")


async def test_record_analysis_stores_the_rubric_and_the_notes(leads_store: Store) -> None:
    app_id = await leads_store.ensure_app("shop")
    leads = Leads(leads_store)
    made = await leads.submit(app_id, lead(), None)
    await leads.start_analysis(app_id, made.id, "ses_1", requested_at=0.0)
    analyzing = await leads.get(app_id, made.id)
    assert (analyzing.status, analyzing.analysis_session_id) == ("analyzing", "ses_1")
    record, score = await leads.record_analysis(app_id, made.id, "x" * 5000)
    assert (record.status, record.score, record.tier) == ("analyzed", score.score, score.tier)
    assert record.reasoning == score.reasoning()
    assert record.agent_notes == "x" * 4000  # capped
    # A request that started before this analysis was stored does not take it back.
    await leads.start_analysis(app_id, made.id, "ses_1", requested_at=0.0)
    assert (await leads.get(app_id, made.id)).status == "analyzed"
    await leads.start_analysis(app_id, made.id, "ses_2", requested_at=record.analyzed_at + 1)
    assert (await leads.get(app_id, made.id)).status == "analyzing"


async def test_concurrent_followups_are_all_kept(leads_store: Store) -> None:
    app_id = await leads_store.ensure_app("shop")
    leads = Leads(leads_store)
    made = await leads.submit(app_id, lead(), None)
    kinds = ["crm", "email", "calendar"] * 4
    await asyncio.gather(
        *(
            leads.record_followup(app_id, made.id, k, {"status": "ok", "n": i})
            for i, k in enumerate(kinds)
        )
    )
    followups = (await leads.get(app_id, made.id)).followups
    assert sorted(followups) == ["calendar", "crm", "email"]


def test_lead_validation_messages() -> None:
    def refused(**fields: Any) -> list[str]:
        with pytest.raises(Exception) as error:
            lead(**fields)
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.value.errors()]  # type: ignore[attr-defined]

    assert refused(email="ada@") == [
        "email: Value error, 'ada@' is not an e-mail address; send one like name@example.com"
    ]
    assert refused(name="   ") == ["name: Value error, must not be empty; send some text"]
    assert refused(service="magic")[0].startswith("service: Input should be 'web_development'")
    assert refused(budget=-5) == ["budget: Input should be greater than or equal to 0"]
    assert refused(budget=10**9) == ["budget: Input should be less than or equal to 100000000"]
    assert refused(message="x" * 5001) == ["message: String should have at most 5000 characters"]
    assert refused(phone="1") == ["phone: Extra inputs are not permitted"]
    assert lead(company="  ").company is None
