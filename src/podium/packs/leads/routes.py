"""The leads routes, mounted at /api/v1/apps/{app_id}/packs/leads (the mount refuses a
caller who is not a member of the app, and an app that has not enabled the pack):

    POST /leads                     submit a lead (member+; an API key of the app for a form)
    GET  /leads/{lead_id}           one lead with its analysis and follow-ups (viewer+)
    GET  /leads?status=&service=&min_score=&max_score=&limit=&cursor=   newest first (viewer+)
    POST /leads/{lead_id}/analyze?wait=   score and qualify it (member+)
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from podium.api.deps import AppMember, AppViewer, ServicesDep
from podium.errors import InvalidInput
from podium.packs.leads.schemas import (
    DEFAULT_ANALYZE_WAIT,
    DEFAULT_PAGE,
    MAX_ANALYZE_WAIT,
    MAX_PAGE,
    AnalyzeAccepted,
    LeadCreate,
    LeadPage,
    LeadPublic,
    Service,
    Status,
)
from podium.packs.leads.service import ANALYSIS_FLOW, Leads
from podium.packs.leads.tables import LeadFilter, LeadRecord

router = APIRouter(tags=["pack: leads"])
LeadId = Annotated[str, Path(max_length=80, description="the lead's id (lead_…)")]
Score = Annotated[int | None, Query(ge=0, le=100)]


def _public(record: LeadRecord) -> LeadPublic:
    return LeadPublic.model_validate(record.to_json())


@router.post("/leads", status_code=201)
async def submit_lead(body: LeadCreate, access: AppMember, services: ServicesDep) -> LeadPublic:
    """Store a lead (status `new`) and emit `lead.submitted`, which syncs it to the CRM."""
    record = await Leads(services.podium.store).submit(access.app_id, body, access.principal.id)
    return _public(record)


@router.get("/leads/{lead_id}")
async def get_lead(lead_id: LeadId, access: AppViewer, services: ServicesDep) -> LeadPublic:
    """The lead, its analysis (null until analyzed) and what its follow-ups did."""
    return _public(await Leads(services.podium.store).get(access.app_id, lead_id))


@router.get("/leads")
async def list_leads(
    access: AppViewer,
    services: ServicesDep,
    status: Annotated[Status | None, Query()] = None,
    service: Annotated[Service | None, Query()] = None,
    min_score: Score = None,
    max_score: Score = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> LeadPage:
    """The app's leads, newest first, a page at a time; a score range leaves out the leads
    not analyzed yet."""
    if min_score is not None and max_score is not None and min_score > max_score:
        raise InvalidInput(
            f"min_score {min_score} is above max_score {max_score}; send a range whose "
            "minimum is at most its maximum"
        )
    where = LeadFilter(status, service, min_score, max_score)
    items, next_cursor = await Leads(services.podium.store).list(
        access.app_id, where, limit, cursor
    )
    return LeadPage(items=[_public(item) for item in items], next_cursor=next_cursor)


@router.post(
    "/leads/{lead_id}/analyze", status_code=200, responses={202: {"model": AnalyzeAccepted}}
)
async def analyze_lead(
    lead_id: LeadId,
    access: AppMember,
    services: ServicesDep,
    response: Response,
    wait: Annotated[float, Query(ge=0, le=MAX_ANALYZE_WAIT)] = DEFAULT_ANALYZE_WAIT,
) -> AnalyzeAccepted:
    """Start the analysis (the `leads_qualify` flow: the rubric's score and the
    lead_qualification agent's notes) and wait up to `wait` seconds for it: 200 with the
    analyzed lead, or 202 with the lead still `analyzing` (read it later, or wait for the
    run with GET /runs/{run_id}/wait)."""
    leads = Leads(services.podium.store)
    await leads.get(access.app_id, lead_id)  # 404 before a session is made for nothing
    requested_at = time.time()
    view = await services.sessions.create_session(
        access.app_id,
        ANALYSIS_FLOW,
        {"lead_id": lead_id},
        metadata={"lead_id": lead_id},
        user_id=access.principal.user_id,
    )
    assert view.run is not None  # a new session has its first run
    await leads.start_analysis(access.app_id, lead_id, view.session.id, requested_at)
    if wait > 0:
        await services.sessions.wait_run(access.app_id, view.run.id, wait)
    record = await leads.get(access.app_id, lead_id)
    if record.status != "analyzed":
        response.status_code = 202
    return AnalyzeAccepted(lead=_public(record), run_id=view.run.id, session_id=view.session.id)
