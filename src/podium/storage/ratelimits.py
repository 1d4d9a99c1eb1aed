"""Rate-limit counters in the database (table `rate_limits`), shared by every API process:
a sliding window of two fixed windows per key, as `limits`' SlidingWindowCounter."""

from __future__ import annotations

from podium.storage.script import Script, execute, one


def hit(key: str, period: int, limit: int, now: float) -> Script:
    """Count one hit of `key` unless it is over `limit` in the `period` (seconds) before `now`.

    Returns (allowed, seconds until a hit is allowed again). The count is the current
    window's hits plus the previous window's, weighted by how much of it is still within
    the period."""
    current = int(now // period) * period
    previous = current - period
    # One key at a time across processes (until the transaction ends): no two pass at the edge.
    yield one("SELECT pg_advisory_xact_lock(hashtext(?)) AS locked", key)
    rows = yield one(
        "SELECT "
        "COALESCE(SUM(CASE WHEN window_start = ? THEN hits END), 0) AS current_hits, "
        "COALESCE(SUM(CASE WHEN window_start = ? THEN hits END), 0) AS previous_hits "
        "FROM rate_limits WHERE key = ? AND window_start >= ?",
        current,
        previous,
        key,
        previous,
    )
    weight = 1 - (now - current) / period
    count = rows["current_hits"] + rows["previous_hits"] * weight
    if count + 1 > limit:
        # Allowed again once the previous window's weighted hits have slid out far enough.
        if rows["previous_hits"]:
            excess = count + 1 - limit
            retry = min(excess / rows["previous_hits"] * period, current + period - now)
        else:
            retry = current + period - now
        return False, max(retry, 0.0)
    yield execute(
        "INSERT INTO rate_limits (key, window_start, hits) VALUES (?, ?, 1) "
        "ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + 1",
        key,
        current,
    )
    yield execute("DELETE FROM rate_limits WHERE key = ? AND window_start < ?", key, previous)
    return True, 0.0
