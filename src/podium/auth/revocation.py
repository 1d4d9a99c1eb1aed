"""Revocation that reaches credentials already in use.

Two parts. `RevokedFamilies` answers "was this login logged out?" for every request that
carries an access token, without a database read per request: a logout in this process is
known at once; a logout in another process (several API replicas) is seen when the family is
next looked up, at most `ttl` seconds (PODIUM_STREAM_RECHECK_SECONDS) after the last look.
`RevocationSignal` wakes this process's open WebSockets and SSE streams when a key is revoked,
a member removed or demoted, a user deleted or a login logged out, so that they re-check their
caller at once instead of at their next periodic check.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator

REMEMBERED_FAMILIES = 8192  # families whose state is remembered (least recently used go first)


class RevokedFamilies:
    """Which refresh-token families (logins) are revoked, remembered for `ttl` seconds."""

    def __init__(self, ttl: float, lookup: Callable[[str], Awaitable[bool]]) -> None:
        self.ttl = ttl
        self._lookup = lookup
        self._revoked: OrderedDict[str, None] = OrderedDict()
        self._live_until: OrderedDict[str, float] = OrderedDict()

    def mark(self, family: str) -> None:
        """This process revoked `family`: refuse its tokens from now on."""
        self._live_until.pop(family, None)
        self._revoked[family] = None
        self._revoked.move_to_end(family)
        if len(self._revoked) > REMEMBERED_FAMILIES:
            self._revoked.popitem(last=False)  # forgotten here, still revoked in the database

    async def is_revoked(self, family: str, *, fresh: bool = False) -> bool:
        """Whether `family` is revoked; `fresh` reads the database whatever was remembered."""
        if family in self._revoked:
            return True
        now = time.monotonic()
        if not fresh and self._live_until.get(family, 0.0) > now:
            return False
        if await self._lookup(family):
            self.mark(family)
            return True
        self._live_until[family] = now + self.ttl
        self._live_until.move_to_end(family)
        if len(self._live_until) > REMEMBERED_FAMILIES:
            self._live_until.popitem(last=False)
        return False


class RevocationSignal:
    """Wakes every open stream of this process to re-check its caller."""

    def __init__(self) -> None:
        self._listeners: set[asyncio.Event] = set()

    def notify(self) -> None:
        for listener in self._listeners:
            listener.set()

    @contextlib.contextmanager
    def listen(self) -> Iterator[asyncio.Event]:
        """An event set at each `notify` while the `with` block runs (clear it after a wake)."""
        listener = asyncio.Event()
        self._listeners.add(listener)
        try:
            yield listener
        finally:
            self._listeners.discard(listener)
