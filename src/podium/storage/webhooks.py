"""Transactions of webhooks (docs/webhooks.md): the webhooks of an app, the outbox of their
deliveries, claims of due deliveries, and the outcome of each attempt.

Events reach the outbox from the app's event log: `enqueue_events` copies the events after a
webhook's cursor that it subscribes to into `webhook_deliveries` and moves the cursor on only
if it is still where it was read (another process did nothing meanwhile), so each event is
queued once per webhook. A delivery is claimed for a lease (so that a process that dies
while sending gives it back), then `record_attempt` writes the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podium.errors import Conflict, NotFound
from podium.events import names
from podium.events.envelope import Event
from podium.ids import new_id
from podium.storage.script import Json, Row, Script, all_rows, execute, loads, one
from podium.storage.transactions import append_events, read_events

# How many events one pass looks at per webhook.
SCAN_LIMIT = 200


@dataclass(slots=True)
class WebhookRecord:
    id: str
    app_id: str
    url: str
    events: list[str]
    enabled: bool
    failures: int
    disabled_reason: str | None
    created_at: float
    updated_at: float
    sealed_secret: str = ""  # never answered


@dataclass(slots=True)
class DeliveryRecord:
    id: str
    webhook_id: str
    app_id: str
    event_seq: int
    event_type: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: float | None
    response_code: int | None
    error: str | None
    history: list[dict[str, Any]]
    created_at: float
    updated_at: float


def _webhook(row: Row) -> WebhookRecord:
    return WebhookRecord(
        id=row["id"],
        app_id=row["app_id"],
        url=row["url"],
        events=loads(row["events"]),
        enabled=bool(row["enabled"]),
        failures=row["failures"],
        disabled_reason=row["disabled_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        sealed_secret=row["secret"],
    )


def _delivery(row: Row) -> DeliveryRecord:
    return DeliveryRecord(
        id=row["id"],
        webhook_id=row["webhook_id"],
        app_id=row["app_id"],
        event_seq=row["event_seq"],
        event_type=row["event_type"],
        payload=loads(row["payload"]),
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        response_code=row["response_code"],
        error=row["error"],
        history=loads(row["history"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def create_webhook(
    app_id: str, url: str, events: list[str], sealed: str, now: float, max_per_app: int
) -> Script:
    """A webhook that sees the app's events from now on; Conflict past the app's cap."""
    count = yield one("SELECT COUNT(*) AS n FROM webhooks WHERE app_id = ?", app_id)
    if count["n"] >= max_per_app:
        raise Conflict(
            f"this app has {count['n']} webhooks, the server's cap "
            f"(PODIUM_WEBHOOK_MAX_PER_APP={max_per_app}); delete one first"
        )
    app = yield one("SELECT last_seq FROM apps WHERE id = ?", app_id)
    if app is None:
        raise NotFound(f"app {app_id!r} does not exist")
    webhook_id = new_id("whk")
    yield execute(
        "INSERT INTO webhooks (id, app_id, url, events, secret, enabled, failures, cursor_seq, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
        webhook_id,
        app_id,
        url,
        Json(events),
        sealed,
        True,
        app["last_seq"],
        now,
        now,
    )
    return WebhookRecord(webhook_id, app_id, url, events, True, 0, None, now, now, sealed)


def list_webhooks(app_id: str) -> Script:
    rows = yield all_rows("SELECT * FROM webhooks WHERE app_id = ? ORDER BY created_at", app_id)
    return [_webhook(row) for row in rows]


def get_webhook(app_id: str, webhook_id: str) -> Script:
    row = yield one("SELECT * FROM webhooks WHERE id = ? AND app_id = ?", webhook_id, app_id)
    if row is None:
        raise NotFound(f"webhook {webhook_id!r} does not exist; GET /webhooks lists them")
    return _webhook(row)


def update_webhook(
    app_id: str,
    webhook_id: str,
    url: str | None,
    events: list[str] | None,
    enabled: bool | None,
    now: float,
) -> Script:
    """Change the URL, the event types or `enabled` (enabling again clears the failures)."""
    record: WebhookRecord = yield from get_webhook(app_id, webhook_id)
    record.url = url if url is not None else record.url
    record.events = events if events is not None else record.events
    if enabled is not None:
        if enabled and not record.enabled:
            record.failures, record.disabled_reason = 0, None
        record.enabled = enabled
    record.updated_at = now
    yield execute(
        "UPDATE webhooks SET url = ?, events = ?, enabled = ?, failures = ?, "
        "disabled_reason = ?, updated_at = ? WHERE id = ?",
        record.url,
        Json(record.events),
        record.enabled,
        record.failures,
        record.disabled_reason,
        now,
        webhook_id,
    )
    return record


def delete_webhook(app_id: str, webhook_id: str) -> Script:
    changed = yield execute("DELETE FROM webhooks WHERE id = ? AND app_id = ?", webhook_id, app_id)
    if not changed:
        raise NotFound(f"webhook {webhook_id!r} does not exist; GET /webhooks lists them")
    return None


def list_deliveries(app_id: str, webhook_id: str, limit: int) -> Script:
    """The webhook's deliveries, newest first."""
    yield from get_webhook(app_id, webhook_id)
    rows = yield all_rows(
        "SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY event_seq DESC LIMIT ?",
        webhook_id,
        limit,
    )
    return [_delivery(row) for row in rows]


# --- the dispatcher ---------------------------------------------------------------------


def behind_webhooks() -> Script:
    """The enabled webhooks whose app has events after their cursor (a read: a pass with
    nothing new writes nothing)."""
    rows = yield all_rows(
        "SELECT w.id, w.app_id, w.events FROM webhooks w JOIN apps a ON a.id = w.app_id "
        "WHERE w.enabled = ? AND a.last_seq > w.cursor_seq",
        True,
    )
    return [(r["id"], r["app_id"], loads(r["events"])) for r in rows]


def any_due(now: float) -> Script:
    """Whether a delivery is due (a read before a claim, which writes)."""
    row = yield one(
        "SELECT 1 AS due FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
        "WHERE w.enabled = ? AND ((d.status = 'pending' AND d.next_attempt_at <= ?) OR "
        "(d.status = 'delivering' AND d.lease_until <= ?)) LIMIT 1",
        True,
        now,
        now,
    )
    return row is not None


def enqueue_events(
    webhook_id: str,
    app_id: str,
    types: list[str],
    cursor: int,
    now: float,
    dialect: str,
    payload_of: Any,
) -> Script:
    """Queue the events after `cursor` that the webhook subscribes to and move its cursor
    past them; returns `(queued, more)`: how many were queued, and whether more events may
    follow (a full page was read). Nothing changes when another process moved the cursor
    first. `payload_of(event)` makes the stored payload of an event."""
    events: list[Event] = yield from read_events(
        app_id, cursor, SCAN_LIMIT, None, None, None, dialect
    )
    if not events:
        return 0, False
    last = events[-1].seq
    moved = yield execute(
        "UPDATE webhooks SET cursor_seq = ? WHERE id = ? AND cursor_seq = ?",
        last,
        webhook_id,
        cursor,
    )
    if not moved:
        return 0, False
    queued = 0
    for event in events:
        if event.type not in types:
            continue
        queued += yield execute(
            "INSERT INTO webhook_deliveries (id, webhook_id, app_id, event_seq, event_type, "
            "payload, status, attempts, next_attempt_at, history, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            new_id("dlv"),
            webhook_id,
            app_id,
            event.seq,
            event.type,
            Json(payload_of(event)),
            now,
            Json([]),
            now,
            now,
        )
    return queued, len(events) == SCAN_LIMIT


def enqueue_next(
    webhook_id: str, app_id: str, types: list[str], now: float, dialect: str, payload_of: Any
) -> Script:
    """`enqueue_events` from the webhook's cursor as stored now."""
    row = yield one(
        "SELECT cursor_seq FROM webhooks WHERE id = ? AND enabled = ?", webhook_id, True
    )
    if row is None:
        return 0, False
    result = yield from enqueue_events(
        webhook_id, app_id, types, row["cursor_seq"], now, dialect, payload_of
    )
    return result


def claim_delivery(now: float, lease_until: float, dialect: str) -> Script:
    """Take the next due delivery of an enabled webhook (pending and due, or delivering with
    a lease run out) with its webhook's URL and sealed secret; None when none is due."""
    lock = " FOR UPDATE OF d SKIP LOCKED" if dialect == "postgresql" else ""
    row = yield one(
        "UPDATE webhook_deliveries SET status = 'delivering', lease_until = ?, "
        "attempts = attempts + 1, updated_at = ? WHERE id = (SELECT d.id FROM "
        "webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE w.enabled = ? AND "
        "((d.status = 'pending' AND d.next_attempt_at <= ?) OR (d.status = 'delivering' AND "
        f"d.lease_until <= ?)) ORDER BY d.next_attempt_at LIMIT 1{lock}) RETURNING *",
        lease_until,
        now,
        True,
        now,
        now,
    )
    if row is None:
        return None
    webhook = yield one("SELECT url, secret FROM webhooks WHERE id = ?", row["webhook_id"])
    return _delivery(row), webhook["url"], webhook["secret"]


def record_attempt(
    delivery: DeliveryRecord,
    attempt: dict[str, Any],
    succeeded: bool,
    retry_at: float | None,
    disable_after: int,
    now: float,
) -> Script:
    """Write an attempt's outcome: succeeded; or pending again until `retry_at`; or failed
    (no `retry_at`: that was the last attempt). A failure counts against the webhook, which
    is disabled (with a `webhook.disabled` event) after `disable_after` in a row; a success
    clears the count. Returns the events written."""
    history = [*delivery.history, attempt]
    status = "succeeded" if succeeded else "pending" if retry_at is not None else "failed"
    changed = yield execute(
        "UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, lease_until = NULL, "
        "response_code = ?, error = ?, history = ?, updated_at = ? WHERE id = ? AND "
        "status = 'delivering' AND attempts = ?",
        status,
        retry_at,
        attempt.get("response_code"),
        attempt.get("error"),
        Json(history),
        now,
        delivery.id,
        delivery.attempts,
    )
    if not changed:  # its lease ran out and another process took it over
        return []
    if succeeded:
        yield execute("UPDATE webhooks SET failures = 0 WHERE id = ?", delivery.webhook_id)
        return []
    row = yield one(
        "UPDATE webhooks SET failures = failures + 1 WHERE id = ? RETURNING failures, enabled",
        delivery.webhook_id,
    )
    if row is None or not row["enabled"] or row["failures"] < disable_after:
        return []
    reason = (
        f"{row['failures']} delivery attempts in a row failed (the last: {attempt_text(attempt)})"
    )
    yield execute(
        "UPDATE webhooks SET enabled = ?, disabled_reason = ?, updated_at = ? WHERE id = ?",
        False,
        reason,
        now,
        delivery.webhook_id,
    )
    disabled = Event(
        names.WEBHOOK_DISABLED,
        delivery.app_id,
        data={"webhook_id": delivery.webhook_id, "failures": row["failures"], "reason": reason},
    )
    events: list[Event] = yield from append_events(delivery.app_id, [disabled], now)
    return events


def attempt_text(attempt: dict[str, Any]) -> str:
    code = attempt.get("response_code")
    return f"HTTP {code}" if code is not None else str(attempt.get("error") or "no answer")
