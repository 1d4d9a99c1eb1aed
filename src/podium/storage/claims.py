"""Claims: which queued run a worker slot takes next, fairly across apps (docs/engine.md,
Claims; docs/security.md, Fair workers)."""

from __future__ import annotations

from podium.events import names
from podium.events.envelope import Event
from podium.storage.records import Claim
from podium.storage.script import Script, all_rows, loads, one
from podium.storage.transactions import RUN_COLUMNS, append_events, run_record

# The runs that hold a worker slot. Repeated word for word wherever they are counted, so that
# SQLite reads the partial index ix_runs_busy (0006) instead of the whole runs table.
HOLDS_SLOT = "status IN ('running', 'pausing')"


# How many of the oldest claimable runs a claim orders by their app's share of the slots.
FAIR_WINDOW = 8


class ClaimRaced(Exception):
    """PostgreSQL: a concurrent claim took the app's last slot first; claim again."""


def claim_next_run(
    worker_id: str, lease_until: float, now: float, dialect: str, app_cap: int | None = None
) -> Script:
    """Take the next queued run fairly across apps; None when idle.

    A run is claimable once its not-before time (`available_at`, a retry back-off) has
    passed, when its app holds fewer than `app_cap` slots (`running` or `pausing` runs, in
    every process), and when its session has no other active run ahead of it. Among those
    the app holding the fewest slots goes first, then the run queued longest.

    Within a session runs go in the order they were created: a run queued again (answered,
    released, its lease expired) has a new `queued_at` but keeps its place ahead of a run
    enqueued behind it meanwhile. Each claim increments the run's fencing token, so a worker
    that lost its lease can no longer write (every step commit checks the token).
    """
    postgres = dialect == "postgresql"
    lock = " FOR UPDATE OF r SKIP LOCKED" if postgres else ""
    capped = (
        "" if app_cap is None else " AND q.app_id NOT IN (SELECT app_id FROM busy WHERE n >= ?)"
    )
    # The window: the oldest claimable runs of the apps under their cap, read in index order
    # (it stops after FAIR_WINDOW); the fewest-slots preference orders only those, so that
    # a claim costs the same with a long queue. PostgreSQL locks only the row it claims.
    row = yield one(
        f"WITH busy AS (SELECT app_id, COUNT(*) AS n FROM runs WHERE {HOLDS_SLOT} GROUP BY "
        "app_id) UPDATE runs SET status = 'running', fence = fence + 1, worker_id = ?, "
        "lease_until = ?, started_at = COALESCE(started_at, ?), available_at = NULL WHERE "
        "status = 'queued' AND id = (SELECT r.id FROM runs r JOIN (SELECT q.id FROM runs q "
        "WHERE q.status = 'queued' AND (q.available_at IS NULL OR q.available_at <= ?)"
        f"{capped} AND NOT EXISTS (SELECT 1 FROM runs o WHERE o.session_id = q.session_id AND "
        "(o.status IN ('running', 'interrupted', 'pausing', 'paused') OR (o.status = 'queued' "
        "AND (o.created_at < q.created_at OR (o.created_at = q.created_at AND o.id < q.id))))) "
        f"ORDER BY q.queued_at LIMIT {FAIR_WINDOW}) w ON w.id = r.id LEFT JOIN busy b ON "
        "b.app_id = r.app_id WHERE r.status = 'queued' ORDER BY COALESCE(b.n, 0), r.queued_at "
        f"LIMIT 1{lock}) RETURNING {RUN_COLUMNS}",
        worker_id,
        lease_until,
        now,
        now,
        *(() if app_cap is None else (app_cap,)),
    )
    if row is None:
        return None
    run = run_record(row)
    # The reads first: appending `run.started` locks the app's row until the commit.
    session = yield one("SELECT state FROM sessions WHERE id = ?", run.session_id)
    calls = yield all_rows(
        "SELECT node_id, iteration, key, result FROM calls WHERE run_id = ?", run.id
    )
    more = yield one(
        "SELECT 1 AS more FROM runs WHERE status = 'queued' AND "
        "(available_at IS NULL OR available_at <= ?) LIMIT 1",
        now,
    )
    events = yield from append_events(
        run.app_id,
        [Event(names.RUN_STARTED, run.app_id, run.session_id, run.id, {"attempt": run.fence})],
        now,
        dialect_name=dialect,
    )
    if postgres and app_cap is not None:
        # Two transactions may have counted the same slots; appending the event locked the
        # app's row, so the count is exact now: the later one of them gives its run back.
        held = yield one(
            f"SELECT COUNT(*) AS n FROM runs WHERE app_id = ? AND {HOLDS_SLOT}", run.app_id
        )
        if held["n"] > app_cap:
            raise ClaimRaced(run.app_id)
    claim = Claim(
        run=run,
        state_json=session["state"],
        calls={(c["node_id"], c["iteration"], c["key"]): loads(c["result"]) for c in calls},
        more_queued=more is not None,
    )
    return claim, events


def next_retry_at() -> Script:
    """The earliest not-before time of the queued runs waiting out a back-off, or None."""
    row = yield one(
        "SELECT MIN(available_at) AS due FROM runs WHERE status = 'queued' "
        "AND available_at IS NOT NULL"
    )
    return None if row is None else row["due"]
