"""Artifacts of one app and the actions clients send them: what the API's routes call.

Every method takes the app's id and reaches only that app's artifacts and sessions: an id of
another app is `NotFound`, the same as an id that does not exist.

An action is either `launch_workflow` (`{"flow": name}`: a session of that flow starts for
the caller, through `SessionService.create_session`, so gates apply) or anything else,
which answers the runs waiting for it on the artifact (`ctx.wait_for_action`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from podium import jsonvalue
from podium.errors import InvalidInput, LimitTooHigh
from podium.events.envelope import Event
from podium.sessions.service import Page, SessionService, decode_cursor, encode_cursor
from podium.storage import artifacts as tx
from podium.storage.artifacts import ArtifactRecord, ArtifactVersionRecord
from podium.storage.script import dumps

LAUNCH_WORKFLOW = "launch_workflow"
ARTIFACT_TYPE_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"


@dataclass(slots=True)
class ActionOutcome:
    """What an action did: the session it launched, or the runs it reached."""

    action: str
    artifact_id: str
    session_id: str | None = None  # launch_workflow: the new session and its first run
    run_id: str | None = None
    runs: list[str] = field(default_factory=list)  # other actions: the runs it answered


def check_state(what: str, value: Any, max_bytes: int | None = None) -> dict[str, Any]:
    """`value` if it is a JSON object the JSON boundary takes; InvalidInput (JSONValueInvalid)
    naming the problem otherwise."""
    if not isinstance(value, dict):
        raise InvalidInput(
            f"{what} is a JSON object (the artifact's state is one), not {type(value).__name__}"
        )
    jsonvalue.check_value(value, what)
    if max_bytes is not None:
        size = len(dumps(value).encode())
        if size > max_bytes:
            raise LimitTooHigh(
                f"{what} is {size} bytes of JSON, over the cap of {max_bytes} "
                "(PODIUM_MAX_STATE_BYTES); keep large data elsewhere and store a reference to it",
                details={"setting": "PODIUM_MAX_STATE_BYTES", "cap": max_bytes, "bytes": size},
            )
    return value


class ArtifactService:
    """App-scoped artifacts: create, read, list, attach, patch, history, actions."""

    def __init__(self, sessions: SessionService) -> None:
        self.sessions = sessions
        self.store = sessions.store

    def _publish(self, events: list[Event]) -> None:
        self.store._published(events)

    async def create(
        self,
        app_id: str,
        type: str,
        initial_state: dict[str, Any] | None = None,
        *,
        flow: str | None = None,
        session_id: str | None = None,
        actor: str | None = None,
    ) -> ArtifactRecord:
        """A new artifact at version 1, attached to `session_id` when given (its flow is then
        the session's unless `flow` is given)."""
        if not isinstance(type, str) or not re.fullmatch(ARTIFACT_TYPE_PATTERN, type):
            raise InvalidInput(
                "an artifact's type is 1 to 128 letters, digits and _ . : -, e.g. 'AppBuilder'"
            )
        state = check_state(
            "initial_state",
            {} if initial_state is None else initial_state,
            self.store.settings.max_state_bytes,
        )
        cap = self.store.settings.max_event_bytes
        record, events = await self.store.run_script(
            lambda: tx.create_artifact(
                app_id, type, flow, state, session_id, actor, time.time(), cap
            )
        )
        self._publish(events)
        return record  # type: ignore[no-any-return]

    async def get(self, app_id: str, artifact_id: str) -> ArtifactRecord:
        record: ArtifactRecord = await self.store.run_read(
            lambda: tx.get_artifact(app_id, artifact_id)
        )
        return record

    async def list_artifacts(
        self,
        app_id: str,
        *,
        session_id: str | None = None,
        type: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """A page of the app's artifacts, oldest first (those of a session: attached to it)."""
        after = decode_cursor(cursor)
        records: list[ArtifactRecord] = await self.store.run_read(
            lambda: tx.list_artifacts(
                app_id, session_id=session_id, type=type, limit=limit + 1, after=after
            )
        )
        more = len(records) > limit
        records = records[:limit]
        last = records[-1] if more else None
        return Page(records, encode_cursor(last.created_at, last.id) if last else None)

    async def attach(self, app_id: str, session_id: str, artifact_id: str) -> ArtifactRecord:
        """Attach the artifact to the session (attaching again changes nothing)."""
        record: ArtifactRecord = await self.store.run_script(
            lambda: tx.attach_artifact(app_id, session_id, artifact_id, time.time())
        )
        return record

    async def patch(
        self,
        app_id: str,
        artifact_id: str,
        patch: dict[str, Any],
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> ArtifactRecord:
        """Apply a JSON Merge Patch (RFC 7396) as the next version, atomically.

        Raises:
            NotFound: no such artifact in the app.
            PreconditionFailed: `expected_version` is not the current version.
            InvalidInput: the patch is not a JSON object.
        """
        check_state("a merge patch", patch)
        dialect = self.store.dialect
        settings = self.store.settings
        record, events = await self.store.run_script(
            lambda: tx.patch_artifact(
                app_id,
                artifact_id,
                patch,
                expected_version,
                actor,
                time.time(),
                dialect,
                settings.max_state_bytes,
                settings.max_event_bytes,
            )
        )
        self._publish(events)
        return record  # type: ignore[no-any-return]

    async def history(
        self, app_id: str, artifact_id: str, *, limit: int = 100, cursor: str | None = None
    ) -> Page:
        """The artifact's versions, oldest first: each one's patch and who made it."""
        after = 0
        if cursor:
            try:
                after = int(cursor)
            except ValueError:
                raise InvalidInput(
                    "cursor is not valid; pass the next_cursor of the previous page"
                ) from None
        versions: list[ArtifactVersionRecord] = await self.store.run_read(
            lambda: tx.artifact_history(app_id, artifact_id, limit + 1, after)
        )
        more = len(versions) > limit
        versions = versions[:limit]
        return Page(versions, str(versions[-1].version) if more else None)

    async def session_artifact_ids(self, app_id: str, session_id: str) -> list[str]:
        ids: list[str] = await self.store.run_read(
            lambda: tx.session_artifact_ids(app_id, session_id)
        )
        return ids

    async def act(
        self,
        app_id: str,
        artifact_id: str,
        action: str,
        payload: Any,
        *,
        user_id: str | None,
        actor: str | None,
    ) -> ActionOutcome:
        """Do what a client's action on the artifact asks (see the module's docstring)."""
        artifact = await self.get(app_id, artifact_id)
        if action == LAUNCH_WORKFLOW:
            return await self._launch(artifact, payload, user_id)
        runs = await self.store.deliver_action(app_id, artifact_id, action, payload, actor)
        return ActionOutcome(action, artifact_id, runs=runs)

    async def _launch(
        self, artifact: ArtifactRecord, payload: Any, user_id: str | None
    ) -> ActionOutcome:
        options = payload if isinstance(payload, dict) else {}
        flow = options.get("flow") or options.get("workflow")
        if not isinstance(flow, str) or not flow:
            raise InvalidInput(
                "launch_workflow needs the flow to start: "
                '{"action": "launch_workflow", "payload": {"flow": "RevenueDashboard"}}'
            )
        run_input = options.get("input") or {}
        if not isinstance(run_input, dict):
            raise InvalidInput('launch_workflow\'s input is a JSON object, e.g. {"name": "Ada"}')
        launched_from = {"artifact_id": artifact.id, "session_id": artifact.session_id}
        view = await self.sessions.create_session(
            artifact.app_id,
            flow,
            run_input,
            metadata={"launched_from": launched_from},
            user_id=user_id,
        )
        run_id = view.run.id if view.run else None
        return ActionOutcome(LAUNCH_WORKFLOW, artifact.id, view.session.id, run_id)
