"""Shared memory offered to node code: `ctx.memory`.

Every operation is a recorded call (`ctx.step`): a write takes effect at once (other runs see
it before this step ends) and is not made again when the step runs again after a crash or an
answer; a read returns, when the step runs again, what it returned the first time, so the
step sees the memory it decided on. (A crash between the write and its record, a window of
one transaction, makes the write again: a set or a delete repeated is the same change.)
"""

from __future__ import annotations

from typing import Any

from podium.engine.context import Context
from podium.errors import InvalidInput
from podium.memory.service import MemoryService, check_scope
from podium.storage.memory import Origin


class NodeMemory:
    """`ctx.memory`: the app's memory, with scope ids taken from the context (the session,
    the run, the app, the session's user) unless `scope_id` names another of the app's."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._service = MemoryService(ctx.store)
        self._user_id: str | None = None

    async def _scope_id(self, scope: str, scope_id: str | None) -> str:
        if scope_id is not None:
            return scope_id
        ctx = self._ctx
        if scope == "session":
            return ctx.session_id
        if scope == "run":
            return ctx.run_id
        if scope == "app":
            return ctx.app_id
        if scope == "user":
            if self._user_id is None:
                session = await ctx.store.get_session(ctx.session_id, app_id=ctx.app_id)
                if session.user_id is None:
                    raise InvalidInput(
                        f"the user scope is the session's user, and session {ctx.session_id} "
                        "has none; start the session as a user (or with a user_id through an "
                        "API key), or use the session or app scope"
                    )
                self._user_id = session.user_id
            return self._user_id
        check_scope(scope, "-")  # raises: names the scopes
        raise AssertionError(scope)

    @property
    def _origin(self) -> Origin:
        ctx = self._ctx
        return Origin(actor=ctx.run_id, session_id=ctx.session_id, run_id=ctx.run_id)

    async def get(
        self, key: str, default: Any = None, *, scope: str = "session", scope_id: str | None = None
    ) -> Any:
        """The value of `key` in the scope, or `default` when it is not set (or expired)."""
        sid = await self._scope_id(scope, scope_id)

        async def read() -> dict[str, Any]:
            entry = await self._service.find(self._ctx.app_id, scope, sid, key)
            return {"found": False} if entry is None else {"found": True, "value": entry.value}

        found = await self._ctx.step(f"memory.get:{scope}:{key}", read)
        return found["value"] if found["found"] else default

    async def set(
        self,
        key: str,
        value: Any,
        *,
        scope: str = "session",
        ttl: float | None = None,
        scope_id: str | None = None,
    ) -> None:
        """Set `key` to a JSON `value`, expiring after `ttl` seconds when given."""
        sid = await self._scope_id(scope, scope_id)

        async def write() -> None:
            await self._service.set(
                self._ctx.app_id, scope, sid, key, value, ttl=ttl, origin=self._origin
            )

        await self._ctx.step(f"memory.set:{scope}:{key}", write)

    async def delete(
        self, key: str, *, scope: str = "session", scope_id: str | None = None
    ) -> bool:
        """Delete `key`; False when it was not set."""
        sid = await self._scope_id(scope, scope_id)

        async def remove() -> bool:
            return await self._service.delete(
                self._ctx.app_id, scope, sid, key, origin=self._origin, missing_ok=True
            )

        deleted: bool = await self._ctx.step(f"memory.delete:{scope}:{key}", remove)
        return deleted

    async def list(
        self,
        prefix: str = "",
        *,
        scope: str = "session",
        limit: int = 100,
        scope_id: str | None = None,
    ) -> dict[str, Any]:
        """`{key: value}` of the scope's keys that start with `prefix`, by key, at most
        `limit` of them (up to 1000)."""
        sid = await self._scope_id(scope, scope_id)

        async def read() -> dict[str, Any]:
            page = await self._service.list(
                self._ctx.app_id, scope, sid, prefix=prefix, limit=limit
            )
            return {entry.key: entry.value for entry in page.items}

        entries: dict[str, Any] = await self._ctx.step(f"memory.list:{scope}:{prefix}", read)
        return entries
