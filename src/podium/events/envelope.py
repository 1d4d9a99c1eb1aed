"""The event envelope `{seq, id, type, app_id, session_id, run_id, ts, data}`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class Event:
    """An event; `seq` is None for live-only events, which are never in the log."""

    type: str
    app_id: str
    session_id: str | None = None
    run_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None
    id: str | None = None
    ts: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
