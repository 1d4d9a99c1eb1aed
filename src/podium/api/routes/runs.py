"""`/apps/{app_id}/runs`: read, wait for, cancel, pause, resume and fork runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from podium.api.deps import AppMember, AppViewer, ServicesDep
from podium.api.schemas import ForkRequest, RunPublic, RunQueued, StepPublic

router = APIRouter(prefix="/apps/{app_id}/runs", tags=["runs"])


STEPS_PAGE = 100
STEPS_PAGE_MAX = 500


@router.get("/{run_id}")
async def get_run(
    run_id: str,
    access: AppViewer,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=STEPS_PAGE_MAX, description="steps per page")] = (
        STEPS_PAGE
    ),
    cursor: Annotated[
        str | None, Query(max_length=400, description="the steps_next_cursor of the last page")
    ] = None,
) -> RunPublic:
    """The run with a page of its steps (in order; `steps_next_cursor` reads the next page)
    and its pending questions."""
    page = await services.sessions.run_steps(access.app_id, run_id, limit, cursor)
    run = await services.sessions.get_run(access.app_id, run_id)
    questions = await services.sessions.pending_questions(access.app_id, run_id)
    return RunPublic.of(run, page.items, questions, steps_next_cursor=page.next_cursor)


@router.get("/{run_id}/steps/{number}")
async def get_step(
    run_id: str,
    number: Annotated[int, Path(ge=1, le=2**62, description="the step's number in the run")],
    access: AppViewer,
    services: ServicesDep,
) -> StepPublic:
    """One step of the run with its node's whole output (where an event that left the
    output out says to read it: `node.completed`'s `read`)."""
    return StepPublic.of(await services.sessions.get_step(access.app_id, run_id, number))


@router.get("/{run_id}/wait")
async def wait_run(
    run_id: str,
    access: AppViewer,
    services: ServicesDep,
    timeout: Annotated[float, Query(ge=0, le=300)] = 30.0,
) -> RunPublic:
    """Block until the run ends or waits for input, or `timeout` seconds pass."""
    run = await services.sessions.wait_run(access.app_id, run_id, timeout)
    questions = None
    if run.status in ("interrupted", "paused"):  # a paused run's questions may be answered
        questions = await services.sessions.pending_questions(access.app_id, run_id)
    return RunPublic.of(run, None, questions)


@router.post("/{run_id}/cancel")
async def cancel_run(run_id: str, access: AppMember, services: ServicesDep) -> RunPublic:
    await services.sessions.cancel_run(access.app_id, run_id)
    run = await services.sessions.get_run(access.app_id, run_id)
    return RunPublic.of(run)


@router.post("/{run_id}/pause")
async def pause_run(run_id: str, access: AppMember, services: ServicesDep) -> RunPublic:
    """Pause the run: `paused` at once when queued or waiting for an answer; `pausing` while
    the nodes it executes finish (no new node starts), then `paused`."""
    await services.podium.pause(run_id, app_id=access.app_id)
    run = await services.sessions.get_run(access.app_id, run_id)
    return RunPublic.of(run)


@router.post("/{run_id}/resume")
async def resume_run(run_id: str, access: AppMember, services: ServicesDep) -> RunPublic:
    """Resume a paused run where it stopped (409 for a run that is not paused)."""
    await services.podium.resume(run_id, app_id=access.app_id)
    run = await services.sessions.get_run(access.app_id, run_id)
    return RunPublic.of(run)


@router.post("/{run_id}/fork", status_code=202)
async def fork_run(
    run_id: str, body: ForkRequest, access: AppMember, services: ServicesDep
) -> RunQueued:
    """A new run from the state as of `step_id` (patched by `state_patch`); the nodes that
    had finished by that step do not run again."""
    new_run = await services.sessions.fork(access.app_id, run_id, body.step_id, body.state_patch)
    run = await services.sessions.get_run(access.app_id, new_run)
    return RunQueued(run_id=new_run, session_id=run.session_id, status="queued")
