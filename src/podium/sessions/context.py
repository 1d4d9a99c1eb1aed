"""`ctx.artifacts` and `ctx.sessions`: the app's artifacts and workflow sessions for node code.

Both are bound to the run's app (node code never passes an `app_id`) and act as the run
(`actor` is the run's id). Every call is a recorded call (`ctx.step`): when the step runs
again — after a crash, or after the answer to a question it asked — a call that finished
returns its recorded result instead of acting twice, so an artifact made before
`ctx.wait_for_action` is not made again when the action arrives. Results are JSON objects.

The services come from the runtime (`ctx.runtime_service("artifacts")`): the API's when it
runs in this process, else one the composition root's factory made on first use.
"""

from __future__ import annotations

import builtins
from typing import Any

from podium.engine.context import Context
from podium.sessions.artifacts import ArtifactService
from podium.sessions.manager import SessionManager, artifact_json


async def artifact_service(ctx: Context) -> ArtifactService:
    """The runtime's artifact service (the API's when it runs in this process)."""
    service: ArtifactService = ctx.runtime_service("artifacts")
    await service.sessions.open()  # the shipped flows a launched session may name
    return service


class NodeArtifacts:
    """`ctx.artifacts`: the app's artifacts, as this run."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def _recorded(self, key: str, call: Any) -> Any:
        async def act() -> Any:
            return await call(await artifact_service(self._ctx))

        return await self._ctx.step(f"artifacts.{key}", act)

    async def create(
        self,
        type: str,
        initial_state: dict[str, Any] | None = None,
        *,
        flow: str | None = None,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        """A new artifact (version 1) attached to this run's session (or `session_id`);
        owned by that session's flow unless `flow` says otherwise."""
        ctx = self._ctx

        async def create(service: ArtifactService) -> dict[str, Any]:
            record = await service.create(
                ctx.app_id,
                type,
                initial_state,
                flow=flow,
                session_id=session_id or ctx.session_id,
                actor=ctx.run_id,
            )
            return artifact_json(record)

        result: dict[str, Any] = await self._recorded("create", create)
        return result

    async def get(self, artifact_id: str) -> dict[str, Any]:
        """The artifact (NotFound when the app has none of that id)."""

        async def get(service: ArtifactService) -> dict[str, Any]:
            return artifact_json(await service.get(self._ctx.app_id, artifact_id))

        result: dict[str, Any] = await self._recorded("get", get)
        return result

    async def update(
        self,
        artifact_id: str,
        state_updates: dict[str, Any],
        *,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Apply `state_updates` as a JSON Merge Patch (only those keys change; None removes
        a key) as the next version; the artifact after it."""

        async def update(service: ArtifactService) -> dict[str, Any]:
            record = await service.patch(
                self._ctx.app_id,
                artifact_id,
                state_updates,
                expected_version=expected_version,
                actor=self._ctx.run_id,
            )
            return artifact_json(record)

        result: dict[str, Any] = await self._recorded("update", update)
        return result

    async def attach(self, artifact_id: str, session_id: str | None = None) -> dict[str, Any]:
        """Attach the artifact to `session_id` (default: this run's session)."""

        async def attach(service: ArtifactService) -> dict[str, Any]:
            record = await service.attach(
                self._ctx.app_id, session_id or self._ctx.session_id, artifact_id
            )
            return artifact_json(record)

        result: dict[str, Any] = await self._recorded("attach", attach)
        return result

    async def history(self, artifact_id: str) -> builtins.list[dict[str, Any]]:
        """Every version of the artifact, oldest first: its patch and who made it."""

        async def history(service: ArtifactService) -> builtins.list[dict[str, Any]]:
            versions: builtins.list[dict[str, Any]] = []
            cursor: str | None = None
            while True:
                page = await service.history(self._ctx.app_id, artifact_id, cursor=cursor)
                versions += [version.to_json() for version in page.items]
                cursor = page.next_cursor
                if cursor is None:
                    return versions

        result: builtins.list[dict[str, Any]] = await self._recorded("history", history)
        return result

    async def list(
        self, *, session_id: str | None = None, type: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """The app's artifacts attached to `session_id` (default: this run's session), of
        `type` when given, oldest first."""

        async def find(service: ArtifactService) -> builtins.list[dict[str, Any]]:
            found: builtins.list[dict[str, Any]] = []
            cursor: str | None = None
            while True:
                page = await service.list_artifacts(
                    self._ctx.app_id,
                    session_id=session_id or self._ctx.session_id,
                    type=type,
                    limit=200,
                    cursor=cursor,
                )
                found += [artifact_json(record) for record in page.items]
                cursor = page.next_cursor
                if cursor is None:
                    return found

        result: builtins.list[dict[str, Any]] = await self._recorded("list", find)
        return result


class NodeSessions:
    """`ctx.sessions`: the session manager's operations for this run's app (no `app_id`);
    a session id left out is this run's session."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def _recorded(self, key: str, call: Any) -> dict[str, Any]:
        async def act() -> Any:
            return await call(SessionManager(await artifact_service(self._ctx)))

        result: dict[str, Any] = await self._ctx.step(f"sessions.{key}", act)
        return result

    async def create_workflow_session(
        self,
        workflow_name: str,
        *,
        user_id: str | None = None,
        input: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Start a session of the flow `workflow_name` for `user_id` (default: this run's
        session's user); gates apply."""
        ctx = self._ctx

        async def create(manager: SessionManager) -> dict[str, Any]:
            user = user_id
            if user is None:
                user = (await manager.get_workflow_session(ctx.session_id, ctx.app_id))["user_id"]
            return await manager.create_workflow_session(
                ctx.app_id, user, workflow_name, input=input, metadata=metadata
            )

        return await self._recorded("create_workflow_session", create)

    async def complete_workflow_session(self, session_id: str | None = None) -> dict[str, Any]:
        """Mark the session (default: this run's own) completed. This run does not count as
        active, so a flow may complete its own session before it ends; the run's end then
        sets the session's status as usual."""
        ctx = self._ctx

        async def complete(manager: SessionManager) -> dict[str, Any]:
            return await manager.complete_workflow_session(
                session_id or ctx.session_id, ctx.app_id, except_run_id=ctx.run_id
            )

        return await self._recorded("complete_workflow_session", complete)

    async def get_workflow_session(self, session_id: str | None = None) -> dict[str, Any]:
        """The session (default: this run's own): status, state, attached artifacts."""
        ctx = self._ctx

        async def get(manager: SessionManager) -> dict[str, Any]:
            return await manager.get_workflow_session(session_id or ctx.session_id, ctx.app_id)

        return await self._recorded("get_workflow_session", get)

    async def create_artifact_instance(
        self,
        workflow_name: str | None,
        artifact_type: str,
        initial_state: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        """A new artifact owned by the flow `workflow_name` (attached to `session_id` only
        when given, as the session manager does)."""
        ctx = self._ctx

        async def create(manager: SessionManager) -> dict[str, Any]:
            return await manager.create_artifact_instance(
                ctx.app_id,
                workflow_name,
                artifact_type,
                initial_state,
                session_id=session_id,
                actor=ctx.run_id,
            )

        return await self._recorded("create_artifact_instance", create)

    async def attach_artifact_to_session(
        self, session_id: str | None, artifact_id: str
    ) -> dict[str, Any]:
        """Attach the artifact to the session (None: this run's session)."""
        ctx = self._ctx

        async def attach(manager: SessionManager) -> dict[str, Any]:
            return await manager.attach_artifact_to_session(
                session_id or ctx.session_id, artifact_id, ctx.app_id
            )

        return await self._recorded("attach_artifact_to_session", attach)

    async def update_artifact_state(
        self, artifact_id: str, state_updates: dict[str, Any]
    ) -> dict[str, Any]:
        """Change only the keys given (a merge patch); the artifact after it."""
        ctx = self._ctx

        async def update(manager: SessionManager) -> dict[str, Any]:
            return await manager.update_artifact_state(
                artifact_id, ctx.app_id, state_updates, actor=ctx.run_id
            )

        return await self._recorded("update_artifact_state", update)

    async def get_artifact_instance(self, artifact_id: str) -> dict[str, Any]:
        """The artifact (NotFound when the app has none of that id)."""
        ctx = self._ctx

        async def get(manager: SessionManager) -> dict[str, Any]:
            return await manager.get_artifact_instance(artifact_id, ctx.app_id)

        return await self._recorded("get_artifact_instance", get)
