"""`/apps/{app_id}/schedules`: cron expressions that start a flow with an input
(docs/schedules.md). Members create, change, pause, resume and delete them; viewers read
them and preview their next due times."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from podium.api.deps import AppMember, AppViewer, ServicesDep
from podium.api.schedule_schemas import (
    FireTimes,
    ScheduleCreate,
    SchedulePreview,
    SchedulePublic,
    ScheduleUpdate,
)
from podium.engine.schedules import time_zone
from podium.sessions.schedules import ScheduleSpec, preview

router = APIRouter(prefix="/apps/{app_id}/schedules", tags=["schedules"])


def _times(times: list[float], timezone: str) -> FireTimes:
    zone = time_zone(timezone)
    return FireTimes(times=times, iso=[datetime.fromtimestamp(t, zone).isoformat() for t in times])


@router.post("", status_code=201)
async def create_schedule(
    body: ScheduleCreate, access: AppMember, services: ServicesDep
) -> SchedulePublic:
    """A schedule; 422 (`schedule_invalid`, `details.field`) for a bad cron expression or
    time zone, an interval under the server's minimum, an unknown flow or a too large input;
    409 for a name taken or the app's cap reached."""
    spec = ScheduleSpec(**body.model_dump())
    record = await services.schedules.create(access.app_id, spec)
    return SchedulePublic.of(record)


@router.get("")
async def list_schedules(access: AppViewer, services: ServicesDep) -> list[SchedulePublic]:
    return [SchedulePublic.of(r) for r in await services.schedules.list_all(access.app_id)]


@router.post("/preview")
async def preview_expression(body: SchedulePreview, access: AppViewer) -> FireTimes:
    """The next due times of an expression not saved yet (checked as a schedule's is)."""
    return _times(preview(body.cron, body.timezone, body.count, body.after), body.timezone)


@router.get("/{schedule_id}")
async def get_schedule(
    schedule_id: str, access: AppViewer, services: ServicesDep
) -> SchedulePublic:
    return SchedulePublic.of(await services.schedules.get(access.app_id, schedule_id))


@router.patch("/{schedule_id}")
async def update_schedule(
    schedule_id: str, body: ScheduleUpdate, access: AppMember, services: ServicesDep
) -> SchedulePublic:
    """Change the fields sent; the next due time is computed again from now."""
    spec = ScheduleSpec(**body.model_dump(exclude_unset=True))
    return SchedulePublic.of(await services.schedules.update(access.app_id, schedule_id, spec))


@router.post("/{schedule_id}/pause")
async def pause_schedule(
    schedule_id: str, access: AppMember, services: ServicesDep
) -> SchedulePublic:
    return SchedulePublic.of(await services.schedules.set_paused(access.app_id, schedule_id, True))


@router.post("/{schedule_id}/resume")
async def resume_schedule(
    schedule_id: str, access: AppMember, services: ServicesDep
) -> SchedulePublic:
    """Due again from now on: the due times passed while paused are not fired."""
    return SchedulePublic.of(await services.schedules.set_paused(access.app_id, schedule_id, False))


@router.get("/{schedule_id}/preview")
async def preview_schedule(
    schedule_id: str,
    access: AppViewer,
    services: ServicesDep,
    count: Annotated[int, Query(ge=1, le=50)] = 5,
) -> FireTimes:
    """The schedule's next due times (as if resumed, when paused)."""
    record = await services.schedules.get(access.app_id, schedule_id)
    return _times(
        await services.schedules.preview(access.app_id, schedule_id, count), record.timezone
    )


@router.delete("/{schedule_id}", status_code=204)
async def delete_schedule(schedule_id: str, access: AppMember, services: ServicesDep) -> Response:
    await services.schedules.delete(access.app_id, schedule_id)
    return Response(status_code=204)
