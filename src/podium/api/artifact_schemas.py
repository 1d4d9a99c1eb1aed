"""Request and response bodies of artifacts, their history and their actions."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from podium.api.schemas import IDENTIFIER_PATTERN, Body
from podium.sessions.artifacts import ActionOutcome
from podium.storage.artifacts import ArtifactRecord, ArtifactVersionRecord


class ArtifactCreate(Body):
    type: str = Field(
        min_length=1, max_length=100, pattern=IDENTIFIER_PATTERN, examples=["AppBuilderArtifact"]
    )
    flow: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=IDENTIFIER_PATTERN,
        description="the flow that owns it (default: the session's flow)",
    )
    initial_state: dict[str, Any] = Field(default_factory=dict)
    session_id: str | None = Field(
        default=None, max_length=80, description="the session it is made in (and attached to)"
    )


class ArtifactPublic(BaseModel):
    id: str
    app_id: str
    type: str
    flow: str | None
    session_id: str | None = Field(description="the session it was made in")
    session_ids: list[str] = Field(description="every session it is attached to")
    state: dict[str, Any]
    version: int
    created_by: str | None
    created_at: float
    updated_at: float

    @classmethod
    def of(cls, record: ArtifactRecord) -> ArtifactPublic:
        return cls.model_validate(record.to_json())


class ArtifactPage(BaseModel):
    items: list[ArtifactPublic]
    next_cursor: str | None


class ArtifactVersionPublic(BaseModel):
    version: int
    patch: dict[str, Any] = Field(description="the merge patch (version 1: the initial state)")
    actor: str | None = Field(description="who made it: usr_…, key_…, run_…")
    created_at: float

    @classmethod
    def of(cls, record: ArtifactVersionRecord) -> ArtifactVersionPublic:
        return cls(
            version=record.version,
            patch=record.patch,
            actor=record.actor,
            created_at=record.created_at,
        )


class ArtifactHistory(BaseModel):
    artifact_id: str
    items: list[ArtifactVersionPublic]
    next_cursor: str | None


class ActionRequest(Body):
    action: str = Field(
        min_length=1,
        max_length=100,
        pattern=IDENTIFIER_PATTERN,
        examples=["launch_workflow", "deploy_app"],
        description="`launch_workflow` starts `payload.flow`; any other action goes to the "
        "runs waiting for it on the artifact",
    )
    payload: Any = Field(default=None, description="any JSON value; `{flow, input?}` to launch")


class ActionAccepted(BaseModel):
    action: str
    artifact_id: str
    session_id: str | None = Field(description="launch_workflow: the session it started")
    run_id: str | None = Field(description="launch_workflow: that session's first run")
    runs: list[str] = Field(description="other actions: the waiting runs it reached (queued)")

    @classmethod
    def of(cls, outcome: ActionOutcome) -> ActionAccepted:
        return cls(
            action=outcome.action,
            artifact_id=outcome.artifact_id,
            session_id=outcome.session_id,
            run_id=outcome.run_id,
            runs=outcome.runs,
        )
