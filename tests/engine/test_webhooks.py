"""Webhooks (docs/webhooks.md) on every backend: a loopback receiver (allowed by the egress
settings) gets each subscribed event once, signed so that `verify_signature` accepts it; a
failing receiver gets retries with back-off (the test's clock) that the delivery log shows,
then the webhook is disabled with an event; a blocked address is refused when the webhook is
made and when a delivery is sent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from tests.conftest import fast_settings

from podium import FlowBuilder, Podium
from podium.config import Settings
from podium.egress import EgressRefused
from podium.engine.worker import Worker
from podium.errors import Conflict, WebhookInvalid
from podium.events import names
from podium.webhooks import SignatureInvalid, verify_signature
from podium.webhooks.dispatcher import WebhookDispatcher
from podium.webhooks.service import WebhookService
from support import nodes
from support.webhook_receiver import Receiver

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def loopback_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "egress_allow": ["127.0.0.1"],
        "secret_key": "a-test-secret-that-is-long-enough-to-seal",
        "webhook_backoff_seconds": 10.0,
        "webhook_max_attempts": 4,
        "webhook_disable_after": 6,
        "webhook_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return fast_settings(**values)


@asynccontextmanager
async def opened(
    url: str, settings: Settings, clock: Clock
) -> AsyncIterator[tuple[Podium, WebhookService, Worker, str]]:
    async with Podium.open(url, settings=settings, migrate=False, workers=0) as podium:
        app_id = await podium.store.ensure_app("hooks")
        flow = FlowBuilder("tick", reducers={"visited": "append"}).python("a", nodes.visit).build()
        await podium.register_flow(flow, app_id=app_id)
        worker = Worker(podium.store, settings, concurrency=1, clock=clock)
        yield podium, WebhookService(podium.store, settings), worker, app_id


async def run_once(podium: Podium, worker: Worker, app_id: str) -> str:
    """A run of `tick` to its end (by a worker of its own: a worker runs once)."""
    handle = await podium.start("tick", {"n": 1}, app_id=app_id)
    await Worker(podium.store, worker.settings, concurrency=1).run(until_idle=True)
    return handle.run_id


async def test_a_loopback_receiver_gets_signed_deliveries(database_url: str) -> None:
    settings, clock = loopback_settings(), Clock(T0)
    with Receiver() as receiver:
        async with opened(database_url, settings, clock) as (podium, webhooks, worker, app_id):
            hook, secret = await webhooks.create(app_id, receiver.url, ["run.succeeded"])
            assert secret.startswith("whsec_") and secret not in str(hook)
            run_id = await run_once(podium, worker, app_id)
            assert await worker.deliver_webhooks() == ["succeeded"]
            assert await worker.deliver_webhooks() == []  # once
            [delivery] = receiver.deliveries
            headers = {k.lower(): v for k, v in delivery.headers.items()}
            verify_signature(
                secret, delivery.body, headers["podium-timestamp"], headers["podium-signature"]
            )
            body = json.loads(delivery.body)
            assert body["type"] == "run.succeeded" and body["event"]["run_id"] == run_id
            assert body["webhook_id"] == hook.id and headers["podium-event"] == "run.succeeded"
            # A changed body, another secret, an old timestamp: refused.
            for args, says in (
                ((secret, delivery.body + b" "), "does not match"),
                (("whsec_other", delivery.body), "does not match"),
            ):
                with pytest.raises(SignatureInvalid, match=says):
                    verify_signature(
                        *args, headers["podium-timestamp"], headers["podium-signature"]
                    )
            later = int(headers["podium-timestamp"]) + 301
            with pytest.raises(SignatureInvalid, match="more than 300 s"):
                verify_signature(
                    secret,
                    delivery.body,
                    headers["podium-timestamp"],
                    headers["podium-signature"],
                    now=later,
                )
            [logged] = await webhooks.deliveries(app_id, hook.id, 10)
            assert (logged.status, logged.response_code, logged.attempts) == ("succeeded", 200, 1)
            # A second process's dispatcher finds nothing more to send.
            other = WebhookDispatcher(podium.store, settings)
            assert await other.run_once(clock.now) == []


async def test_a_failing_receiver_gets_retries_with_back_off(database_url: str) -> None:
    settings, clock = loopback_settings(), Clock(T0)
    with Receiver(status=500) as receiver:
        async with opened(database_url, settings, clock) as (podium, webhooks, worker, app_id):
            hook, _ = await webhooks.create(app_id, receiver.url, ["run.succeeded"])
            await run_once(podium, worker, app_id)
            assert await worker.deliver_webhooks() == ["pending"]  # attempt 1 at T0
            # Back-off: 10 s, then 20 s, then 40 s; nothing is sent before each is due.
            for wait, status in ((10, "pending"), (20, "pending"), (40, "failed")):
                clock.now += wait - 1
                assert await worker.deliver_webhooks() == []
                clock.now += 1
                assert await worker.deliver_webhooks() == [status]
            assert len(receiver.deliveries) == 4
            [logged] = await webhooks.deliveries(app_id, hook.id, 10)
            assert logged.status == "failed" and logged.attempts == 4
            assert [a["response_code"] for a in logged.history] == [500] * 4
            assert [a["at"] - T0 for a in logged.history] == [0, 10, 30, 70]
            assert (await webhooks.get(app_id, hook.id)).failures == 4

            # Two more failures in a row (PODIUM_WEBHOOK_DISABLE_AFTER=6) disable it.
            await run_once(podium, worker, app_id)
            assert await worker.deliver_webhooks() == ["pending"]
            clock.now += 10
            assert await worker.deliver_webhooks() == ["pending"]
            disabled = await webhooks.get(app_id, hook.id)
            assert not disabled.enabled and "6 delivery attempts in a row failed" in (
                disabled.disabled_reason or ""
            )
            events = await podium.store.read_events(app_id, limit=1000)
            [event] = [e for e in events if e.type == names.WEBHOOK_DISABLED]
            assert event.data["webhook_id"] == hook.id and event.data["failures"] == 6
            clock.now += 3600
            assert await worker.deliver_webhooks() == []  # a disabled webhook sends nothing
            # Enabled again (and the receiver fixed), the pending delivery goes out.
            receiver.status = 204
            await webhooks.update(app_id, hook.id, enabled=True)
            assert await worker.deliver_webhooks() == ["succeeded"]
            assert (await webhooks.get(app_id, hook.id)).failures == 0


async def test_blocked_addresses_are_refused_at_creation_and_at_delivery(
    database_url: str,
) -> None:
    clock = Clock(T0)
    strict = loopback_settings(egress_allow=[])
    with Receiver() as receiver:
        async with opened(database_url, strict, clock) as (podium, webhooks, worker, app_id):
            for url in (receiver.url, "http://169.254.169.254/latest", "http://localhost:9/x"):
                with pytest.raises(EgressRefused, match="PODIUM_EGRESS_ALLOW"):
                    await webhooks.create(app_id, url, ["run.succeeded"])
            assert await webhooks.list_all(app_id) == []
            # Made while the loopback was allowed; the policy in force at delivery refuses it.
            allowed = WebhookService(podium.store, loopback_settings())
            hook, _ = await allowed.create(app_id, receiver.url, ["run.succeeded"])
            await run_once(podium, worker, app_id)
            assert await worker.deliver_webhooks() == ["pending"]
            assert receiver.deliveries == []
            [logged] = await webhooks.deliveries(app_id, hook.id, 10)
            assert logged.response_code is None
            assert "refused by the egress policy" in (logged.error or "")
            assert "PODIUM_EGRESS_ALLOW=127.0.0.1" in (logged.error or "")


async def test_bad_webhooks_and_caps(database_url: str) -> None:
    settings, clock = loopback_settings(webhook_max_per_app=1), Clock(T0)
    async with opened(database_url, settings, clock) as (_, webhooks, _, app_id):
        for url, events, says in (
            ("ftp://example.com/x", ["run.succeeded"], "is not an http(s) URL"),
            ("https://user:pw@example.com/x", ["run.succeeded"], "no credentials"),
            ("https://example.com/x", [], "at least one event type"),
            ("https://example.com/x", ["node.started"], "'node.started' cannot be subscribed"),
        ):
            with pytest.raises(WebhookInvalid, match=says.replace("(", r"\(").replace(")", r"\)")):
                await webhooks.create(app_id, url, events)
        await webhooks.create(app_id, "https://example.com/x", ["run.failed"])
        with pytest.raises(Conflict, match="PODIUM_WEBHOOK_MAX_PER_APP=1"):
            await webhooks.create(app_id, "https://example.com/y", ["run.failed"])
