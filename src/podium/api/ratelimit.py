"""Rate limits: per user or API key, and for logins per identifier and per client address.

On SQLite (one process) the `limits` library counts in memory. On PostgreSQL the counts are
in the database (table `rate_limits`, a sliding window of two counters), so that every API
process and replica enforces one limit together (docs/deploy.md).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from limits import parse, strategies
from limits.storage import MemoryStorage

from podium.errors import RateLimited
from podium.storage import ratelimits

if TYPE_CHECKING:
    from podium.storage.store import Store


class Counters(MemoryStorage):
    """`limits`' in-memory storage, sweeping expired counters every SWEEP_SECONDS.

    Its own sweep runs 10 ms after a hit, in a thread started anew whenever the last one has
    ended: under load that is ~100 threads started per second, ~4 % of the API process's CPU
    in H2 (benchmarks/README.md). Reads never see an expired counter either way (`get` and the
    moving window check expiry themselves); the sweep only frees memory, so once a second
    is enough."""

    SWEEP_SECONDS = 1.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # overrides the private scheduler
        if not self.timer.is_alive():
            sweep = self._MemoryStorage__expire_events  # type: ignore[attr-defined]
            self.timer = threading.Timer(self.SWEEP_SECONDS, sweep)
            self.timer.daemon = True
            self.timer.start()


class RateLimiter:
    """`hit(key)` counts one request of `key` and raises `RateLimited` past the limit."""

    def __init__(
        self,
        limit: str,
        setting: str = "PODIUM_RATE_LIMIT",
        *,
        exact: bool = False,
        store: Store | None = None,
    ) -> None:
        self.limit = parse(limit)
        self.setting = setting
        # Shared through the database on PostgreSQL; in this process's memory otherwise.
        self.shared = store if store is not None and store.dialect == "postgresql" else None
        self.storage = Counters()
        # A sliding window of two counters is O(1) per hit, but approximate: across a window's
        # boundary it lets a little more through. `exact` keeps every hit (a moving window):
        # for logins, which are few and where a burst at the boundary is what an attacker wants.
        self.strategy: strategies.RateLimiter = (
            strategies.MovingWindowRateLimiter(self.storage)
            if exact
            else strategies.SlidingWindowCounterRateLimiter(self.storage)
        )

    async def hit(self, key: str, what: str = "requests") -> None:
        if self.shared is not None:
            period = self.limit.get_expiry()
            allowed, retry = await self.shared.run_script(
                lambda: ratelimits.hit(
                    f"{self.setting}:{key}", period, self.limit.amount, time.time()
                )
            )
        else:
            allowed = self.strategy.hit(self.limit, key)
            if not allowed:
                reset_at, _ = self.strategy.get_window_stats(self.limit, key)
                retry = max(reset_at - time.time(), 0.0)
        if not allowed:
            raise RateLimited(
                f"too many {what}: the limit is {self.limit} ({self.setting}); retry in "
                f"{retry:.0f} s",
                retry_after=round(retry, 1),
            )


class LoginLimiter:
    """Login attempts, counted per identifier (normalized, so that spaces or case do not make
    a fresh one) and per client address (so that trying many identifiers from one place is
    bounded too). Past either limit the answer is 429 with Retry-After."""

    def __init__(self, per_identifier: str, per_address: str, store: Store | None = None) -> None:
        self.identifiers = RateLimiter(
            per_identifier, "PODIUM_LOGIN_RATE_LIMIT", exact=True, store=store
        )
        self.addresses = RateLimiter(
            per_address, "PODIUM_LOGIN_ADDRESS_RATE_LIMIT", exact=True, store=store
        )

    async def hit(self, identifier: str | None, address: str | None) -> None:
        await self.addresses.hit(f"address:{address or 'unknown'}", "logins from this address")
        if identifier is not None:
            await self.identifiers.hit(f"identifier:{identifier}", "logins for this account")
