"""The session manager: workflow sessions and their artifacts, for packs and node code.

The operations a pack written against an "interactive artifacts" backend expects, over
Podium's sessions and artifacts. All are async and app-scoped; results are JSON objects
(`dict`), so node code may keep them in its state. A missing session or artifact raises
`NotFound` with the id in its message; nothing returns None.

In Podium's words: a *workflow session* is a session of a flow (`workflow_name` is the
flow's name, `chat_id` of other backends is the session id, and results use the API's
fields: `id`, `flow`, `status` in lower case); `update_artifact_state` is a JSON Merge Patch
(RFC 7396): only the keys given change, objects merge key by key, a key set to None is
removed, lists are replaced whole.
"""

from __future__ import annotations

from typing import Any

from podium.sessions.artifacts import ArtifactService
from podium.sessions.service import SessionView
from podium.storage.artifacts import ArtifactRecord


def session_json(view: SessionView, artifact_ids: list[str]) -> dict[str, Any]:
    """A session as the manager answers it."""
    session = view.session
    return {
        "id": session.id,
        "app_id": session.app_id,
        "flow": view.flow.name if view.flow else None,
        "flow_id": session.flow_id,
        "user_id": session.user_id,
        "status": session.status,
        "state": session.state,
        "metadata": session.metadata,
        "run_id": view.run.id if view.run else None,
        "run_status": view.run.status if view.run else None,
        "artifact_ids": artifact_ids,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
    }


def artifact_json(record: ArtifactRecord) -> dict[str, Any]:
    """An artifact as the manager answers it: the same object as the API's."""
    return record.to_json()


class SessionManager:
    """`create_workflow_session`, `complete_workflow_session`, `get_workflow_session`,
    `create_artifact_instance`, `attach_artifact_to_session`, `update_artifact_state`,
    `get_artifact_instance`."""

    def __init__(self, artifacts: ArtifactService) -> None:
        self.artifacts = artifacts
        self.sessions = artifacts.sessions

    async def create_workflow_session(
        self,
        app_id: str,
        user_id: str | None,
        workflow_name: str,
        *,
        input: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Start a session of the flow `workflow_name` for the user (its first run queued).

        Raises:
            NotFound: the app has no such flow.
            PrerequisiteNotMet: the flow is gated and the user has not completed what it
                requires.
        """
        view = await self.sessions.create_session(
            app_id, workflow_name, input or {}, metadata=metadata, user_id=user_id
        )
        return session_json(view, [])

    async def complete_workflow_session(
        self, session_id: str, app_id: str, *, except_run_id: str | None = None
    ) -> dict[str, Any]:
        """Mark the session completed (flows gated on its flow may then start for its user).

        Raises:
            NotFound: no such session in the app.
            Conflict: a run of the session (other than `except_run_id`) is still active.
        """
        await self.sessions.complete_session(app_id, session_id, except_run_id=except_run_id)
        return await self.get_workflow_session(session_id, app_id)

    async def get_workflow_session(self, session_id: str, app_id: str) -> dict[str, Any]:
        """The session: status, state, latest run, the artifacts attached to it.

        Raises:
            NotFound: no such session in the app.
        """
        view = await self.sessions.get_session(app_id, session_id)
        return session_json(view, await self.artifacts.session_artifact_ids(app_id, session_id))

    async def create_artifact_instance(
        self,
        app_id: str,
        workflow_name: str | None,
        artifact_type: str,
        initial_state: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        """A new artifact (version 1) owned by the flow `workflow_name`; attached to
        `session_id` when given.

        Raises:
            NotFound: `session_id` is not a session of the app.
            InvalidInput: `initial_state` is not a JSON object.
        """
        record = await self.artifacts.create(
            app_id,
            artifact_type,
            initial_state,
            flow=workflow_name,
            session_id=session_id,
            actor=actor,
        )
        return artifact_json(record)

    async def attach_artifact_to_session(
        self, session_id: str, artifact_id: str, app_id: str
    ) -> dict[str, Any]:
        """Attach the artifact to the session (again changes nothing); the artifact.

        Raises:
            NotFound: the session or the artifact is not the app's.
        """
        return artifact_json(await self.artifacts.attach(app_id, session_id, artifact_id))

    async def update_artifact_state(
        self,
        artifact_id: str,
        app_id: str,
        state_updates: dict[str, Any],
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        """Change only the keys given (a merge patch) as the next version; the artifact.
        Subscribers get an `artifact.state.updated` event.

        Raises:
            NotFound: no such artifact in the app.
            PreconditionFailed: `expected_version` is given and is not the current version.
            InvalidInput: `state_updates` is not a JSON object.
        """
        record = await self.artifacts.patch(
            app_id, artifact_id, state_updates, expected_version=expected_version, actor=actor
        )
        return artifact_json(record)

    async def get_artifact_instance(self, artifact_id: str, app_id: str) -> dict[str, Any]:
        """The artifact: its state, version, flow, sessions.

        Raises:
            NotFound: no such artifact in the app.
        """
        return artifact_json(await self.artifacts.get(app_id, artifact_id))
