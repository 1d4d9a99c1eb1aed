"""RevokedFamilies and RevocationSignal: a local revocation is known at once, another
process's within the time to live, and no request reads the database while it is fresh."""

from __future__ import annotations

import asyncio

from podium.auth.revocation import RevocationSignal, RevokedFamilies


class Database:
    """The revoked families "in the database", and how often they were looked up."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()
        self.lookups = 0

    async def lookup(self, family: str) -> bool:
        self.lookups += 1
        return family in self.revoked


async def test_a_live_family_is_looked_up_once_per_time_to_live() -> None:
    database = Database()
    families = RevokedFamilies(0.2, database.lookup)
    for _ in range(50):
        assert not await families.is_revoked("fam_a")
    assert database.lookups == 1
    database.revoked.add("fam_a")  # another process logs out
    assert not await families.is_revoked("fam_a")  # still within the time to live
    await asyncio.sleep(0.25)
    assert await families.is_revoked("fam_a")
    assert await families.is_revoked("fam_a")
    assert database.lookups == 2  # once revoked, remembered


async def test_a_local_revocation_is_known_at_once_and_fresh_reads_the_database() -> None:
    database = Database()
    families = RevokedFamilies(60, database.lookup)
    assert not await families.is_revoked("fam_a")
    families.mark("fam_a")
    assert await families.is_revoked("fam_a")
    assert database.lookups == 1
    assert not await families.is_revoked("fam_b")
    database.revoked.add("fam_b")
    assert await families.is_revoked("fam_b", fresh=True)


async def test_the_signal_wakes_every_listener_until_it_leaves() -> None:
    signal = RevocationSignal()
    with signal.listen() as first, signal.listen() as second:
        signal.notify()
        assert first.is_set() and second.is_set()
        first.clear()
    signal.notify()  # nobody listens: nothing to wake, nothing kept
    assert not first.is_set()
