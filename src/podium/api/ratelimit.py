"""Rate limits (the `limits` library, in memory): per user or API key, and for
logins per identifier and per client address.

Limits are per process: with several API replicas each enforces its own window.
"""

from __future__ import annotations

import time

from limits import parse, strategies
from limits.storage import MemoryStorage

from podium.errors import RateLimited


class RateLimiter:
    """`hit(key)` counts one request of `key` and raises `RateLimited` past the limit."""

    def __init__(
        self, limit: str, setting: str = "PODIUM_RATE_LIMIT", *, exact: bool = False
    ) -> None:
        self.limit = parse(limit)
        self.setting = setting
        self.storage = MemoryStorage()
        # A sliding window of two counters is O(1) per hit, but approximate: across a window's
        # boundary it lets a little more through. `exact` keeps every hit (a moving window):
        # for logins, which are few and where a burst at the boundary is what an attacker wants.
        self.strategy: strategies.RateLimiter = (
            strategies.MovingWindowRateLimiter(self.storage)
            if exact
            else strategies.SlidingWindowCounterRateLimiter(self.storage)
        )

    def hit(self, key: str, what: str = "requests") -> None:
        if not self.strategy.hit(self.limit, key):
            reset_at, _ = self.strategy.get_window_stats(self.limit, key)
            retry = max(reset_at - time.time(), 0.0)
            raise RateLimited(
                f"too many {what}: the limit is {self.limit} ({self.setting}); retry in "
                f"{retry:.0f} s",
                retry_after=round(retry, 1),
            )


class LoginLimiter:
    """Login attempts, counted per identifier (normalized, so that spaces or case do not make
    a fresh one) and per client address (so that trying many identifiers from one place is
    bounded too). Past either limit the answer is 429 with Retry-After."""

    def __init__(self, per_identifier: str, per_address: str) -> None:
        self.identifiers = RateLimiter(per_identifier, "PODIUM_LOGIN_RATE_LIMIT", exact=True)
        self.addresses = RateLimiter(per_address, "PODIUM_LOGIN_ADDRESS_RATE_LIMIT", exact=True)

    def hit(self, identifier: str | None, address: str | None) -> None:
        self.addresses.hit(f"address:{address or 'unknown'}", "logins from this address")
        if identifier is not None:
            self.identifiers.hit(f"identifier:{identifier}", "logins for this account")
