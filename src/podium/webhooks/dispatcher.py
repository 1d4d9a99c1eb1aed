"""Delivering webhooks (docs/webhooks.md): the workers' loop calls `WebhookDispatcher.run_once`
every `PODIUM_WEBHOOK_POLL_SECONDS`.

A pass first copies the new events of each enabled webhook's app into the outbox
(`podium.storage.webhooks.enqueue_events`), then sends the deliveries that are due, one
claimed at a time: a POST of the event, signed (`podium.webhooks.signature`), through the
egress policy, not following redirects. A 2xx answer is a success; anything else (another
status, a timeout, a refused or unreachable address) is a failed attempt, tried again after
`PODIUM_WEBHOOK_BACKOFF_SECONDS` × 2^(attempt − 1) (at most an hour) until
`PODIUM_WEBHOOK_MAX_ATTEMPTS`; `PODIUM_WEBHOOK_DISABLE_AFTER` failed attempts in a row
disable the webhook. `now` (due times, back-off) is the caller's clock, for tests; the
signature's timestamp is the wall clock, which receivers compare with theirs.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx2

from podium import egress
from podium.auth.service import server_secret
from podium.config import Settings
from podium.events.envelope import Event
from podium.secretbox import SecretBox, SecretUnreadable
from podium.storage import webhooks as tx
from podium.storage.script import dumps
from podium.storage.store import Store
from podium.webhooks.signature import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)

log = logging.getLogger("podium.webhooks")

MAX_BACKOFF_SECONDS = 3600.0
# Deliveries one pass sends at most (the rest at the next pass).
PASS_LIMIT = 50


def payload_of(cap: int) -> Any:
    """The payload stored for an event: its envelope, without `data` when the envelope is
    over `cap` bytes (`truncated: true`; the receiver reads it from the app's events)."""

    def make(event: Event) -> dict[str, Any]:
        envelope = event.to_json()
        if len(dumps(envelope).encode()) > cap:
            envelope["data"] = None
            envelope["truncated"] = True
        return envelope

    return make


def body_of(delivery: tx.DeliveryRecord) -> bytes:
    """The bytes a delivery POSTs (the signature covers exactly these)."""
    body = {
        "delivery_id": delivery.id,
        "webhook_id": delivery.webhook_id,
        "type": delivery.event_type,
        "event": delivery.payload,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookDispatcher:
    def __init__(
        self, store: Store, settings: Settings, policy: egress.EgressPolicy | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.policy = policy or egress.EgressPolicy.from_settings(settings)
        self._box: SecretBox | None = None

    async def box(self) -> SecretBox:
        if self._box is None:
            self._box = SecretBox(await server_secret(self.store, self.settings))
        return self._box

    async def run_once(self, now: float) -> list[str]:
        """Queue new events, then send the due deliveries; the statuses they ended in."""
        await self.enqueue(now)
        statuses: list[str] = []
        for _ in range(PASS_LIMIT):
            status = await self.deliver_one(now)
            if status is None:
                break
            statuses.append(status)
        return statuses

    async def enqueue(self, now: float) -> int:
        make = payload_of(self.settings.webhook_max_payload_bytes)
        queued = 0
        webhooks = await self.store.run_read(tx.behind_webhooks)
        for webhook_id, app_id, types in webhooks:
            more = True
            while more:
                added, more = await self.store.run_script(
                    lambda w=webhook_id, a=app_id, t=types: tx.enqueue_next(  # type: ignore[misc]
                        w, a, t, now, self.store.dialect, make
                    )
                )
                queued += added
        return queued

    async def deliver_one(self, now: float) -> str | None:
        """Claim and send one due delivery; its status after, or None when none is due."""
        if not await self.store.run_read(lambda: tx.any_due(now)):
            return None
        lease = now + self.settings.webhook_timeout_seconds * 2 + 5
        claimed = await self.store.run_script(
            lambda: tx.claim_delivery(now, lease, self.store.dialect)
        )
        if claimed is None:
            return None
        delivery, url, sealed = claimed
        try:
            secret = (await self.box()).open(sealed)
        except SecretUnreadable as exc:  # PODIUM_SECRET_KEY changed: nothing can be signed
            attempt: dict[str, Any] = {
                "attempt": delivery.attempts,
                "at": now,
                "error": exc.message,
            }
        else:
            attempt = await self._send(delivery, url, secret, now)
        code = attempt.get("response_code")
        succeeded = code is not None and 200 <= code < 300
        retry_at = None
        if not succeeded and delivery.attempts < self.settings.webhook_max_attempts:
            delay = self.settings.webhook_backoff_seconds * 2 ** (delivery.attempts - 1)
            retry_at = now + min(delay, MAX_BACKOFF_SECONDS)
        events = await self.store.run_script(
            lambda: tx.record_attempt(
                delivery, attempt, succeeded, retry_at, self.settings.webhook_disable_after, now
            )
        )
        self.store._published(events)
        return "succeeded" if succeeded else "pending" if retry_at is not None else "failed"

    async def _send(
        self, delivery: tx.DeliveryRecord, url: str, secret: str, now: float
    ) -> dict[str, Any]:
        body = body_of(delivery)
        sent_at = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Podium-Webhooks/1",
            DELIVERY_HEADER: delivery.id,
            EVENT_HEADER: delivery.event_type,
            TIMESTAMP_HEADER: str(sent_at),
            SIGNATURE_HEADER: sign(secret, sent_at, body),
        }
        attempt: dict[str, Any] = {"attempt": delivery.attempts, "at": now}
        started = time.monotonic()
        timeout = self.settings.webhook_timeout_seconds
        try:
            async with egress.guarded_client(self.policy, timeout=timeout) as client:
                request = client.build_request("POST", url, content=body, headers=headers)
                response = await client.send(request, follow_redirects=False, stream=True)
                await response.aclose()  # the answer's body is not read
                attempt["response_code"] = response.status_code
        except Exception as exc:  # every failure is an attempt's outcome, said plainly
            refused = egress.refusal_in(exc)
            if refused is not None:
                attempt["error"] = f"refused by the egress policy: {refused.message}"
            elif isinstance(exc, httpx2.TimeoutException):
                attempt["error"] = f"no answer within {timeout:g} s"
            else:
                attempt["error"] = f"could not be reached ({type(exc).__name__})"
        attempt["duration_ms"] = round((time.monotonic() - started) * 1000)
        return attempt
