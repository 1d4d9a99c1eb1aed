"""Schedules of an app (docs/schedules.md): cron expressions that start a flow with an input.

The service checks what a caller sends (the cron expression, its time zone, the server's
minimum interval, the flow, the input's size and the app's cap) and stores it; the workers
fire due schedules (`podium.engine.schedules`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from podium import jsonvalue
from podium.engine import schedules as cron
from podium.errors import NotFound, ScheduleInvalid
from podium.sessions.service import SessionService
from podium.storage import schedules as tx
from podium.storage.schedules import OVERLAP_POLICIES, ScheduleRecord
from podium.storage.script import dumps

PREVIEW_MAX = 50


@dataclass(slots=True)
class ScheduleSpec:
    """What a caller sets; None leaves a field as it is (on a change)."""

    name: str | None = None
    flow: str | None = None
    input: dict[str, Any] | None = None
    cron: str | None = None
    timezone: str | None = None
    overlap: str | None = None
    paused: bool | None = None


class ScheduleService:
    def __init__(self, sessions: SessionService, clock: Callable[[], float] = time.time) -> None:
        self.sessions = sessions
        # What time it is for due times (tests drive their own clock, as the workers do).
        self.clock = clock
        self.store = sessions.store
        self.settings = sessions.podium.settings

    async def _checked(self, record: ScheduleRecord, now: float) -> ScheduleRecord:
        settings = self.settings
        record.cron = cron.check_cron(record.cron)
        cron.time_zone(record.timezone)
        cron.check_interval(
            record.cron, record.timezone, now, settings.schedule_min_interval_seconds
        )
        if record.overlap not in OVERLAP_POLICIES:
            raise ScheduleInvalid(
                f"overlap {record.overlap!r} is unknown (use {', '.join(OVERLAP_POLICIES)})",
                details={"field": "overlap"},
            )
        jsonvalue.check_value(record.input, "the schedule's input")
        size = len(dumps(record.input).encode())
        if size > settings.schedule_max_input_bytes:
            raise ScheduleInvalid(
                f"the schedule's input is {size} bytes; the server's cap is "
                f"{settings.schedule_max_input_bytes} (PODIUM_SCHEDULE_MAX_INPUT_BYTES)",
                details={"field": "input"},
            )
        try:
            flow = await self.sessions.find_flow(record.app_id, record.flow)
        except NotFound:
            raise ScheduleInvalid(
                f"no flow named {record.flow!r} in this app; register it with POST /flows "
                "(GET /flows lists them)",
                details={"field": "flow"},
            ) from None
        record.flow_app_id = flow.app_id
        record.next_fire_at = (
            None if record.paused else cron.next_times(record.cron, record.timezone, now, 1)[0]
        )
        return record

    async def create(self, app_id: str, spec: ScheduleSpec) -> ScheduleRecord:
        now = self.clock()
        if not spec.name or not spec.flow or not spec.cron:
            raise ScheduleInvalid("a schedule needs a name, a flow and a cron expression")
        record = ScheduleRecord(
            id="",
            app_id=app_id,
            name=spec.name,
            flow=spec.flow,
            flow_app_id="",
            input=spec.input or {},
            cron=spec.cron,
            timezone=spec.timezone or "UTC",
            overlap=spec.overlap or "skip",
            paused=bool(spec.paused),
            next_fire_at=None,
            last_fire_at=None,
            last_run_id=None,
            last_outcome=None,
            session_id=None,
            fires=0,
            created_at=now,
            updated_at=now,
        )
        await self._checked(record, now)
        cap = self.settings.schedule_max_per_app
        created: ScheduleRecord = await self.store.run_script(
            lambda: tx.create_schedule(replace(record), cap)
        )
        return created

    async def list_all(self, app_id: str) -> list[ScheduleRecord]:
        records: list[ScheduleRecord] = await self.store.run_read(lambda: tx.list_schedules(app_id))
        return records

    async def get(self, app_id: str, schedule_id: str) -> ScheduleRecord:
        record: ScheduleRecord = await self.store.run_read(
            lambda: tx.get_schedule(app_id, schedule_id)
        )
        return record

    async def update(self, app_id: str, schedule_id: str, spec: ScheduleSpec) -> ScheduleRecord:
        """Change the fields `spec` sets; the next due time is computed again from now."""
        now = self.clock()
        record = await self.get(app_id, schedule_id)
        for field in ("name", "flow", "input", "cron", "timezone", "overlap", "paused"):
            value = getattr(spec, field)
            if value is not None:
                setattr(record, field, value)
        record.updated_at = now
        await self._checked(record, now)
        saved: ScheduleRecord = await self.store.run_script(lambda: tx.save_schedule(record))
        return saved

    async def set_paused(self, app_id: str, schedule_id: str, paused: bool) -> ScheduleRecord:
        """Pause (no due time) or resume (the first due time after now: the times passed
        while paused are not fired)."""
        return await self.update(app_id, schedule_id, ScheduleSpec(paused=paused))

    async def delete(self, app_id: str, schedule_id: str) -> None:
        await self.store.run_script(lambda: tx.delete_schedule(app_id, schedule_id))

    async def preview(
        self, app_id: str, schedule_id: str, count: int, after: float | None = None
    ) -> list[float]:
        """The schedule's next `count` due times after `after` (default: now), even if paused."""
        record = await self.get(app_id, schedule_id)
        return preview(
            record.cron, record.timezone, count, self.clock() if after is None else after
        )


def preview(cron_text: str, timezone: str, count: int, after: float | None = None) -> list[float]:
    """The next `count` due times of an expression (checked) after `after` (default: now)."""
    if not 1 <= count <= PREVIEW_MAX:
        raise ScheduleInvalid(
            f"count must be between 1 and {PREVIEW_MAX}", details={"field": "count"}
        )
    text = cron.check_cron(cron_text)
    return cron.next_times(text, timezone, time.time() if after is None else after, count)
