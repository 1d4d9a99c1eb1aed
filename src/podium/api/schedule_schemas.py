"""Bodies of schedules (`/apps/{app_id}/schedules`, docs/schedules.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from podium.api.schemas import Body
from podium.storage.schedules import ScheduleRecord

Overlap = Literal["skip", "enqueue", "cancel_previous"]
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class ScheduleCreate(Body):
    name: str = Field(min_length=1, max_length=100, pattern=NAME)
    flow: str = Field(min_length=1, max_length=200, description="a flow of the app, by name")
    input: dict[str, Any] = Field(default_factory=dict, description="each run's input")
    cron: str = Field(
        min_length=1,
        max_length=200,
        description="five fields (minute hour day-of-month month day-of-week) or @daily…",
    )
    timezone: str = Field(default="UTC", min_length=1, max_length=64, description="IANA name")
    overlap: Overlap = Field(
        default="skip",
        description="when the previous run is still active: skip this due time, enqueue "
        "behind it, or cancel it (cancel_previous)",
    )
    paused: bool = False


class ScheduleUpdate(Body):
    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=NAME)
    flow: str | None = Field(default=None, min_length=1, max_length=200)
    input: dict[str, Any] | None = None
    cron: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    overlap: Overlap | None = None
    paused: bool | None = None


class SchedulePreview(Body):
    cron: str = Field(min_length=1, max_length=200)
    timezone: str = Field(default="UTC", min_length=1, max_length=64)
    count: int = Field(default=5, ge=1, le=50)
    after: float | None = Field(default=None, description="a Unix time; default: now")


class FireTimes(BaseModel):
    times: list[float] = Field(description="Unix times")
    iso: list[str] = Field(description="the same times in the schedule's time zone")


class SchedulePublic(BaseModel):
    id: str
    app_id: str
    name: str
    flow: str
    input: dict[str, Any]
    cron: str
    timezone: str
    overlap: Overlap
    paused: bool
    next_fire_at: float | None
    last_fire_at: float | None
    last_run_id: str | None
    last_outcome: str | None
    session_id: str | None = Field(description="the session every run of the schedule is in")
    fires: int
    created_at: float
    updated_at: float

    @classmethod
    def of(cls, record: ScheduleRecord) -> SchedulePublic:
        return cls(
            id=record.id,
            app_id=record.app_id,
            name=record.name,
            flow=record.flow,
            input=record.input,
            cron=record.cron,
            timezone=record.timezone,
            overlap=record.overlap,  # type: ignore[arg-type]
            paused=record.paused,
            next_fire_at=record.next_fire_at,
            last_fire_at=record.last_fire_at,
            last_run_id=record.last_run_id,
            last_outcome=record.last_outcome,
            session_id=record.session_id,
            fires=record.fires,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )
