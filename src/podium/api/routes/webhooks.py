"""`/apps/{app_id}/webhooks`: signed HTTP callbacks on the app's events, and their delivery
log (docs/webhooks.md). For the app's admins: a webhook holds a secret and its deliveries
carry the app's events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from podium.api.deps import AppAdmin, ServicesDep
from podium.api.webhook_schemas import (
    DeliveryPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
    WebhookUpdate,
)

router = APIRouter(prefix="/apps/{app_id}/webhooks", tags=["webhooks"])


@router.post("", status_code=201)
async def create_webhook(
    body: WebhookCreate, access: AppAdmin, services: ServicesDep
) -> WebhookCreated:
    """A webhook and its `secret` (answered this once). 422 `webhook_invalid` for a bad URL
    or event type, `not_allowed` for an address the egress policy blocks; 409 past the
    app's cap."""
    record, secret = await services.webhooks.create(access.app_id, body.url, body.events)
    return WebhookCreated(**WebhookPublic.of(record).model_dump(), secret=secret)


@router.get("")
async def list_webhooks(access: AppAdmin, services: ServicesDep) -> list[WebhookPublic]:
    return [WebhookPublic.of(r) for r in await services.webhooks.list_all(access.app_id)]


@router.get("/{webhook_id}")
async def get_webhook(webhook_id: str, access: AppAdmin, services: ServicesDep) -> WebhookPublic:
    return WebhookPublic.of(await services.webhooks.get(access.app_id, webhook_id))


@router.patch("/{webhook_id}")
async def update_webhook(
    webhook_id: str, body: WebhookUpdate, access: AppAdmin, services: ServicesDep
) -> WebhookPublic:
    """Change the URL or the event types; `{"enabled": true}` enables a disabled webhook
    again (its failures count from zero)."""
    record = await services.webhooks.update(
        access.app_id, webhook_id, url=body.url, events=body.events, enabled=body.enabled
    )
    return WebhookPublic.of(record)


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: str, access: AppAdmin, services: ServicesDep) -> Response:
    await services.webhooks.delete(access.app_id, webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries")
async def list_deliveries(
    webhook_id: str,
    access: AppAdmin,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[DeliveryPublic]:
    """The webhook's deliveries, newest first, with every attempt."""
    records = await services.webhooks.deliveries(access.app_id, webhook_id, limit)
    return [DeliveryPublic.of(r) for r in records]
