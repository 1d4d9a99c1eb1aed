"""The event envelope `{seq, id, type, app_id, session_id, run_id, ts, data}`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from podium.ids import event_id


@dataclass(slots=True)
class Event:
    """An event; `seq` is None for live-only events, which are never in the log.

    A persisted event's `id` is derived from its app, `seq` and time (`podium.ids.event_id`),
    so the log does not store it; live-only events have no id.
    """

    type: str
    app_id: str
    session_id: str | None = None
    run_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None
    ts: float | None = None

    @property
    def id(self) -> str | None:
        if self.seq is None or self.ts is None:
            return None
        return event_id(self.app_id, self.seq, self.ts)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "id": self.id,
            "type": self.type,
            "app_id": self.app_id,
            "session_id": self.session_id,
            "run_id": self.run_id,
            "ts": self.ts,
            "data": self.data,
        }
