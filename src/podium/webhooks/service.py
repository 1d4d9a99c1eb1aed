"""Webhooks of an app (docs/webhooks.md): create (the secret is answered once), read,
change, delete, and read the delivery log. Every URL passes the egress policy when stored
(a blocked address written out is refused here) and again at every delivery (a name that
resolves to one is refused there)."""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlsplit

from podium import egress
from podium.auth.service import server_secret
from podium.config import Settings
from podium.errors import WebhookInvalid
from podium.events import names
from podium.secretbox import SecretBox
from podium.storage import webhooks as tx
from podium.storage.store import Store
from podium.storage.webhooks import DeliveryRecord, WebhookRecord

# The event types a webhook may subscribe to.
EVENT_TYPES = (
    names.RUN_SUCCEEDED,
    names.RUN_FAILED,
    names.RUN_CANCELLED,
    names.RUN_INTERRUPTED,  # a question asked (or an action awaited)
    names.RUN_PAUSED,
    names.SESSION_CREATED,
    names.SESSION_COMPLETED,
    names.ARTIFACT_CREATED,
    names.ARTIFACT_STATE_UPDATED,
    names.MEMORY_UPDATED,
    names.KNOWLEDGE_INGESTED,
    names.SCHEDULE_FIRED,
    names.WEBHOOK_DISABLED,
)
SECRET_PREFIX = "whsec_"


class WebhookService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._box: SecretBox | None = None

    async def box(self) -> SecretBox:
        if self._box is None:
            self._box = SecretBox(await server_secret(self.store, self.settings))
        return self._box

    def _check(self, url: str | None, events: list[str] | None) -> None:
        if url is not None:
            try:
                parts = urlsplit(url)
                host = parts.hostname
            except ValueError:
                host, parts = None, None
            if parts is None or parts.scheme not in ("http", "https") or not host:
                raise WebhookInvalid(
                    f"url {url!r} is not an http(s) URL with a host "
                    "(e.g. https://hooks.example.com/podium)",
                    details={"field": "url"},
                )
            if parts.username or parts.password:
                raise WebhookInvalid(
                    "url: put no credentials in the URL; check the signature instead",
                    details={"field": "url"},
                )
            egress.EgressPolicy.from_settings(self.settings).check_url(url, "url")
        if events is not None:
            if not events:
                raise WebhookInvalid(
                    "events: name at least one event type", details={"field": "events"}
                )
            unknown = [event for event in events if event not in EVENT_TYPES]
            if unknown:
                raise WebhookInvalid(
                    f"events: {', '.join(map(repr, unknown))} cannot be subscribed to; the "
                    f"event types are {', '.join(EVENT_TYPES)}",
                    details={"field": "events"},
                )

    async def create(self, app_id: str, url: str, events: list[str]) -> tuple[WebhookRecord, str]:
        """The webhook and its secret (answered this once; stored encrypted)."""
        events = list(dict.fromkeys(events))
        self._check(url, events)
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        sealed = (await self.box()).seal(secret)
        cap = self.settings.webhook_max_per_app
        record: WebhookRecord = await self.store.run_script(
            lambda: tx.create_webhook(app_id, url, events, sealed, time.time(), cap)
        )
        return record, secret

    async def list_all(self, app_id: str) -> list[WebhookRecord]:
        records: list[WebhookRecord] = await self.store.run_read(lambda: tx.list_webhooks(app_id))
        return records

    async def get(self, app_id: str, webhook_id: str) -> WebhookRecord:
        record: WebhookRecord = await self.store.run_read(
            lambda: tx.get_webhook(app_id, webhook_id)
        )
        return record

    async def update(
        self,
        app_id: str,
        webhook_id: str,
        *,
        url: str | None = None,
        events: list[str] | None = None,
        enabled: bool | None = None,
    ) -> WebhookRecord:
        events = list(dict.fromkeys(events)) if events is not None else None
        self._check(url, events)
        record: WebhookRecord = await self.store.run_script(
            lambda: tx.update_webhook(app_id, webhook_id, url, events, enabled, time.time())
        )
        return record

    async def delete(self, app_id: str, webhook_id: str) -> None:
        await self.store.run_script(lambda: tx.delete_webhook(app_id, webhook_id))

    async def deliveries(self, app_id: str, webhook_id: str, limit: int) -> list[DeliveryRecord]:
        records: list[DeliveryRecord] = await self.store.run_read(
            lambda: tx.list_deliveries(app_id, webhook_id, limit)
        )
        return records
