"""`/apps/{app_id}/artifacts`: create, read, list, attach, patch (JSON Merge Patch with
`If-Match`), history and actions. Viewers read; members write and act."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from podium import jsonvalue
from podium.api.artifact_schemas import (
    ActionAccepted,
    ActionRequest,
    ArtifactCreate,
    ArtifactHistory,
    ArtifactPage,
    ArtifactPublic,
    ArtifactVersionPublic,
)
from podium.api.deps import AppAccess, AppMember, AppViewer, ServicesDep
from podium.api.errors import ErrorEnvelope
from podium.errors import InvalidInput, UnsupportedMediaType
from podium.sessions.artifacts import LAUNCH_WORKFLOW

router = APIRouter(prefix="/apps/{app_id}", tags=["artifacts"])

MERGE_PATCH = "application/merge-patch+json"
PATCH_TYPES = (MERGE_PATCH, "application/json")
PATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "a JSON Merge Patch (RFC 7396): null removes a key, objects merge, "
        "anything else replaces",
        "content": {
            media: {"schema": {"type": "object", "additionalProperties": True}}
            for media in PATCH_TYPES
        },
    }
}
PRECONDITION_FAILED: dict[int | str, dict[str, Any]] = {
    412: {"model": ErrorEnvelope, "description": "If-Match is not the current version"},
    415: {"model": ErrorEnvelope, "description": "not application/merge-patch+json"},
}
IfMatch = Annotated[
    str | None,
    Header(
        max_length=40,
        description='the version the patch was made against, e.g. `3` or `"3"` (the ETag)',
    ),
]


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None) -> int | None:
    """The version an `If-Match` header names; None for no header or `*`."""
    if if_match is None or if_match.strip() == "*":
        return None
    value = if_match.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not (value.isascii() and value.isdigit()):
        raise InvalidInput(
            f'If-Match is the artifact\'s version (its ETag), e.g. If-Match: 3 or "3"; '
            f"got {if_match!r}"
        )
    return int(value)


async def read_merge_patch(request: Request) -> dict[str, Any]:
    """The request's body as a merge patch: a JSON object in one of `PATCH_TYPES`."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in PATCH_TYPES:
        raise UnsupportedMediaType(
            f"send the patch as {MERGE_PATCH} (or application/json), not {media or 'no type'}",
            details={"accepted": list(PATCH_TYPES)},
        )
    # The one JSON boundary (JSONBodyMiddleware checked it too: this route reads the body
    # itself, so it does not rely on the middleware seeing the same media types).
    patch = jsonvalue.loads(await request.body(), "the merge patch")
    if not isinstance(patch, dict):
        raise InvalidInput(
            "a merge patch of an artifact is a JSON object (its state is one), e.g. "
            '{"build_progress": 75}'
        )
    return patch


def actor_of(access: AppAccess) -> str:
    return access.principal.id


@router.post("/artifacts", status_code=201)
async def create_artifact(
    body: ArtifactCreate, access: AppMember, services: ServicesDep, response: Response
) -> ArtifactPublic:
    """A new artifact at version 1 (in a session and attached to it, when `session_id`)."""
    record = await services.artifacts.create(
        access.app_id,
        body.type,
        body.initial_state,
        flow=body.flow,
        session_id=body.session_id,
        actor=actor_of(access),
    )
    response.headers["ETag"] = etag(record.version)
    return ArtifactPublic.of(record)


@router.get("/artifacts")
async def list_artifacts(
    access: AppViewer,
    services: ServicesDep,
    session_id: Annotated[str | None, Query(max_length=80)] = None,
    artifact_type: Annotated[str | None, Query(alias="type", max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> ArtifactPage:
    """The app's artifacts, oldest first; `session_id`: those attached to that session."""
    page = await services.artifacts.list_artifacts(
        access.app_id, session_id=session_id, type=artifact_type, limit=limit, cursor=cursor
    )
    return ArtifactPage(
        items=[ArtifactPublic.of(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.get("/artifacts/{artifact_id}")
async def get_artifact(
    artifact_id: str, access: AppViewer, services: ServicesDep, response: Response
) -> ArtifactPublic:
    """The artifact's state and version (also its `ETag`)."""
    record = await services.artifacts.get(access.app_id, artifact_id)
    response.headers["ETag"] = etag(record.version)
    return ArtifactPublic.of(record)


@router.patch("/artifacts/{artifact_id}", openapi_extra=PATCH_BODY, responses=PRECONDITION_FAILED)
async def patch_artifact(
    artifact_id: str,
    request: Request,
    access: AppMember,
    services: ServicesDep,
    response: Response,
    if_match: IfMatch = None,
) -> ArtifactPublic:
    """Apply a JSON Merge Patch as the next version, atomically; with `If-Match`, only if the
    artifact is still at that version (else 412 with the current one)."""
    expected = expected_version(if_match)
    patch = await read_merge_patch(request)
    record = await services.artifacts.patch(
        access.app_id, artifact_id, patch, expected_version=expected, actor=actor_of(access)
    )
    response.headers["ETag"] = etag(record.version)
    return ArtifactPublic.of(record)


@router.get("/artifacts/{artifact_id}/history")
async def artifact_history(
    artifact_id: str,
    access: AppViewer,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[
        str | None, Query(pattern="^[0-9]{1,18}$", description="the next_cursor of a page")
    ] = None,
) -> ArtifactHistory:
    """Every version, oldest first: its patch (version 1: the initial state) and its actor."""
    page = await services.artifacts.history(access.app_id, artifact_id, limit=limit, cursor=cursor)
    return ArtifactHistory(
        artifact_id=artifact_id,
        items=[ArtifactVersionPublic.of(v) for v in page.items],
        next_cursor=page.next_cursor,
    )


@router.post("/artifacts/{artifact_id}/actions", status_code=202)
async def artifact_action(
    artifact_id: str, body: ActionRequest, access: AppMember, services: ServicesDep
) -> ActionAccepted:
    """`launch_workflow` `{flow, input?}` starts a session of that flow for the caller (gates
    apply); any other action answers the runs waiting for it on the artifact."""
    user_id = access.principal.user_id
    if body.action == LAUNCH_WORKFLOW and isinstance(body.payload, dict):
        requested = body.payload.get("user_id")
        if requested is not None:
            if access.principal.kind == "user" or not isinstance(requested, str):
                raise InvalidInput("payload.user_id is for API keys (a string); a user launches")
            user_id = requested
    outcome = await services.artifacts.act(
        access.app_id,
        artifact_id,
        body.action,
        body.payload,
        user_id=user_id,
        actor=actor_of(access),
    )
    return ActionAccepted.of(outcome)


@router.post("/sessions/{session_id}/artifacts/{artifact_id}")
async def attach_artifact(
    session_id: str, artifact_id: str, access: AppMember, services: ServicesDep
) -> ArtifactPublic:
    """Attach the artifact to the session (attaching again changes nothing)."""
    record = await services.artifacts.attach(access.app_id, session_id, artifact_id)
    return ArtifactPublic.of(record)
