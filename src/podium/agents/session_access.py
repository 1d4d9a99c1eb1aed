"""What the session tools (`podium.tools.session`) act through in a run: the run's app,
session and run, nothing a model chooses.

The services are called directly, not through `ctx.artifacts`/`ctx.memory`: a tool call is
already a recorded call (`recorded_tool_call`), and a recorded call nested in it under a key
like `memory.set:session:x` would be found by a later, different call of the same key after
the step runs again (the nested call is not made when its tool call is replayed, so the
occurrence counts drift). The tool call's own record is what keeps it from happening twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from podium.agents.messages import AgentMessageService
from podium.errors import InvalidInput
from podium.memory.service import MemoryService
from podium.sessions.context import artifact_service
from podium.storage import agents as tx
from podium.storage.memory import Origin

if TYPE_CHECKING:
    from podium.engine.context import Context

# The artifact ids a tool call is told of (a session holding more sees its oldest ones).
MAX_SESSION_ARTIFACTS = 200


async def session_artifact_ids(ctx: Context) -> tuple[str, ...]:
    """The ids of the artifacts attached to the run's session."""
    app_id, session_id = ctx.app_id, ctx.session_id
    ids: list[str] = await ctx.store.run_read(
        lambda: tx.session_artifact_ids(app_id, session_id, MAX_SESSION_ARTIFACTS)
    )
    return tuple(ids)


class RunSessionAccess:
    """A `SessionAccess` for one tool call of a run: `sender` names the agent (or node)
    calling, `call_key` the recorded call (a question asked is keyed under it)."""

    def __init__(self, ctx: Context, sender: str, call_key: str) -> None:
        self._ctx = ctx
        self._sender = sender[:64]
        self._call_key = call_key

    # --- artifacts --------------------------------------------------------------------

    async def list_artifacts(self) -> list[dict[str, Any]]:
        ctx = self._ctx
        service = await artifact_service(ctx)
        page = await service.list_artifacts(
            ctx.app_id, session_id=ctx.session_id, limit=MAX_SESSION_ARTIFACTS
        )
        return [
            {"id": record.id, "type": record.type, "version": record.version}
            for record in page.items
        ]

    async def read_artifact(self, artifact_id: str) -> dict[str, Any]:
        service = await artifact_service(self._ctx)
        record = await service.get(self._ctx.app_id, artifact_id)  # NotFound: not the app's
        return record.to_json()

    async def patch_artifact(
        self, artifact_id: str, patch: dict[str, Any], expected_version: int | None
    ) -> dict[str, Any]:
        ctx = self._ctx
        service = await artifact_service(ctx)
        record = await service.patch(
            ctx.app_id, artifact_id, patch, expected_version=expected_version, actor=ctx.run_id
        )
        return record.to_json()

    # --- memory -----------------------------------------------------------------------

    async def _scope_id(self, scope: str) -> str:
        ctx = self._ctx
        if scope == "session":
            return ctx.session_id
        if scope == "run":
            return ctx.run_id
        if scope == "app":
            return ctx.app_id
        session = await ctx.store.get_session(ctx.session_id, app_id=ctx.app_id)
        if session.user_id is None:
            raise InvalidInput(
                f"the user scope is the session's user, and session {ctx.session_id} has "
                "none; use the session or app scope"
            )
        return session.user_id

    def _origin(self) -> Origin:
        ctx = self._ctx
        return Origin(actor=ctx.run_id, session_id=ctx.session_id, run_id=ctx.run_id)

    async def read_memory(self, scope: str, key: str) -> tuple[bool, Any]:
        scope_id = await self._scope_id(scope)
        entry = await MemoryService(self._ctx.store).find(self._ctx.app_id, scope, scope_id, key)
        return (False, None) if entry is None else (True, entry.value)

    async def list_memory(self, scope: str, prefix: str, limit: int) -> dict[str, Any]:
        scope_id = await self._scope_id(scope)
        page = await MemoryService(self._ctx.store).list(
            self._ctx.app_id, scope, scope_id, prefix=prefix, limit=limit
        )
        return {entry.key: entry.value for entry in page.items}

    async def write_memory(
        self, scope: str, key: str, value: Any, ttl_seconds: float | None
    ) -> None:
        scope_id = await self._scope_id(scope)
        memory, app_id = MemoryService(self._ctx.store), self._ctx.app_id
        if value is None:
            await memory.delete(
                app_id, scope, scope_id, key, origin=self._origin(), missing_ok=True
            )
        else:
            await memory.set(
                app_id, scope, scope_id, key, value, ttl=ttl_seconds, origin=self._origin()
            )

    # --- messages and questions -------------------------------------------------------

    async def send_agent_message(self, to: str, type: str, content: Any) -> dict[str, Any]:
        ctx = self._ctx
        record = await AgentMessageService(ctx.store).send(
            ctx.app_id, ctx.run_id, to, type, content, sender=self._sender
        )
        return record.to_json()

    async def ask_user(self, question: str, choices: list[str] | None) -> Any:
        # Keyed under the tool call: the same key when the step runs again after the answer.
        return await self._ctx.ask_user(question, choices, key=f"{self._call_key}.ask")
