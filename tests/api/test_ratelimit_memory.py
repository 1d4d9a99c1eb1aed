"""Rate limits in one process's memory (SQLite): `limits`' storage with its sweep of expired
counters once a second instead of a thread started every 10 ms under load."""

from __future__ import annotations

import asyncio

import pytest

from podium.api.ratelimit import Counters, RateLimiter
from podium.errors import RateLimited


async def test_the_sweep_runs_once_a_second_not_every_10_ms() -> None:
    limiter = RateLimiter("100/second")
    await asyncio.sleep(0.05)  # the storage's first sweep (its constructor's) has ended
    await limiter.hit("k")
    assert isinstance(limiter.storage, Counters)
    assert limiter.storage.timer.interval == Counters.SWEEP_SECONDS
    assert limiter.storage.timer.is_alive()


@pytest.mark.parametrize("exact", [False, True])
async def test_an_expired_count_no_longer_limits_before_the_sweep(exact: bool) -> None:
    limiter = RateLimiter("2/second", exact=exact)
    limiter.storage.SWEEP_SECONDS = 60.0  # no sweep in this test: expiry is read, not swept
    await asyncio.sleep(0.05)
    await limiter.hit("k")
    await limiter.hit("k")
    with pytest.raises(RateLimited, match=r"too many requests: the limit is 2 per 1 second"):
        await limiter.hit("k")
    await asyncio.sleep(2.1)  # past both windows of the sliding counter
    await limiter.hit("k")
    assert limiter.storage.timer.interval == 60.0
