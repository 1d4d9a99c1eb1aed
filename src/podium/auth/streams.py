"""Credentials checked for as long as they are used (DESIGN §8): the guard of an open stream.

A WebSocket or an SSE response is authorized when it opens, but it may stay open for hours.
Its guard re-checks the caller (API key not revoked, user not deleted, login not logged out)
and the caller's role in every app the stream reads, on every incoming message, at least every
PODIUM_STREAM_RECHECK_SECONDS, and at once when this process revokes something
(`RevocationSignal`). A revocation in another process is seen at the next periodic check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from podium.auth.tenancy import Principal, Role, Tenancy
from podium.errors import Forbidden, NotFound, Unauthorized

logger = logging.getLogger(__name__)


class StreamGuard:
    """The checks of one open stream; `reads` maps a subscription to (app id, least role)."""

    def __init__(self, tenancy: Tenancy, principal: Principal, interval: float) -> None:
        self.tenancy = tenancy
        self.principal = principal
        self.interval = interval
        self.reads: dict[str, tuple[str, Role]] = {}

    async def withdrawn(self) -> str | None:
        """Why the stream must end now (a message for the client), or None while it holds."""
        try:
            await self.tenancy.recheck(self.principal)
        except Unauthorized as exc:
            return exc.message
        for app_id, least in set(self.reads.values()):
            try:
                await self.tenancy.require(self.principal, app_id, least)
            except (NotFound, Forbidden):
                return f"access to app {app_id} was withdrawn (removed, role lowered or deleted)"
        return None

    async def watch(self) -> str:
        """Wait until a check fails; its reason. A check that cannot run (the database is
        away) is tried again at the next interval, not taken for a revocation."""
        with self.tenancy.auth.revocations.listen() as woken:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), self.interval)
                woken.clear()
                try:
                    reason = await self.withdrawn()
                except Exception:  # logged; the next check decides
                    logger.warning("could not re-check an open stream's caller", exc_info=True)
                    continue
                if reason is not None:
                    return reason
