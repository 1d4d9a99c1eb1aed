"""Per-user and per-key rate limits (the `limits` library, sliding window, in memory).

Limits are per process: with several API replicas each enforces its own window.
"""

from __future__ import annotations

import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from podium.errors import RateLimited


class RateLimiter:
    """`hit(key)` counts one request of `key` and raises `RateLimited` past the limit."""

    def __init__(self, limit: str) -> None:
        self.limit = parse(limit)
        self.storage = MemoryStorage()
        # A sliding window of two counters: O(1) per hit, where a moving window keeps every hit.
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)

    def hit(self, key: str) -> None:
        if not self.strategy.hit(self.limit, key):
            reset_at, _ = self.strategy.get_window_stats(self.limit, key)
            retry = max(reset_at - time.time(), 0.0)
            raise RateLimited(
                f"too many requests: the limit is {self.limit}; retry in {retry:.0f} s",
                retry_after=round(retry, 1),
            )
