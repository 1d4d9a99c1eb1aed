"""Bodies of webhooks (`/apps/{app_id}/webhooks`, docs/webhooks.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from podium.api.schemas import Body
from podium.storage.webhooks import DeliveryRecord, WebhookRecord

EVENTS = Field(min_length=1, max_length=20, description="event types, e.g. run.succeeded")


class WebhookCreate(Body):
    url: str = Field(min_length=1, max_length=2048, description="an http(s) URL")
    events: list[str] = EVENTS


class WebhookUpdate(Body):
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    events: list[str] | None = Field(default=None, min_length=1, max_length=20)
    enabled: bool | None = Field(default=None, description="true enables a disabled one again")


class WebhookPublic(BaseModel):
    id: str
    app_id: str
    url: str
    events: list[str]
    enabled: bool
    failures: int = Field(description="failed delivery attempts in a row")
    disabled_reason: str | None
    created_at: float
    updated_at: float

    @classmethod
    def of(cls, record: WebhookRecord) -> WebhookPublic:
        return cls(
            id=record.id,
            app_id=record.app_id,
            url=record.url,
            events=record.events,
            enabled=record.enabled,
            failures=record.failures,
            disabled_reason=record.disabled_reason,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="whsec_…: signs the deliveries; shown this once")


class DeliveryPublic(BaseModel):
    id: str
    webhook_id: str
    event_seq: int
    event_type: str
    status: str = Field(description="pending, delivering, succeeded or failed")
    attempts: int
    next_attempt_at: float | None
    response_code: int | None
    error: str | None
    history: list[dict[str, Any]] = Field(description="every attempt: at, response_code, error")
    created_at: float
    updated_at: float

    @classmethod
    def of(cls, record: DeliveryRecord) -> DeliveryPublic:
        return cls(
            id=record.id,
            webhook_id=record.webhook_id,
            event_seq=record.event_seq,
            event_type=record.event_type,
            status=record.status,
            attempts=record.attempts,
            next_attempt_at=record.next_attempt_at if record.status == "pending" else None,
            response_code=record.response_code,
            error=record.error,
            history=record.history,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )
