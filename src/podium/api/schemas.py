"""Request and response bodies (`…Create`, `…Update`, `…Public`), separate from storage."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from podium.auth.service import EMAIL_PATTERN, USERNAME_PATTERN, TokenPair
from podium.sessions.service import SessionView
from podium.storage.accounts import ApiKeyRecord, AppRecord, UserRecord
from podium.storage.records import FlowRecord, InterruptRecord, RunRecord, StepRecord

RoleName = Literal["owner", "admin", "member", "viewer"]
KeyRole = Literal["admin", "member", "viewer"]
Strategy = Literal["reject", "enqueue", "interrupt"]


# Names and ids have character rules as well as lengths (DESIGN §8): an identifier (a flow's
# name, a node's id, an artifact's type, an action) is what flow files use; a display name (an
# app's, an API key's) is any printable text on one line; free text may also break lines.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
DISPLAY_NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN, max_length=128)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- auth and users ---------------------------------------------------------------------


class LoginRequest(Body):
    identifier: str = Field(min_length=1, max_length=320, description="email or username")
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(Body):
    refresh_token: str = Field(min_length=1, max_length=4096)


class UserCreate(Body):
    email: str = Field(min_length=3, max_length=320, pattern=EMAIL_PATTERN)
    username: str = Field(min_length=2, max_length=80, pattern=USERNAME_PATTERN)
    password: str = Field(min_length=8, max_length=1024)
    is_admin: bool = False


class SignupRequest(Body):
    email: str = Field(min_length=3, max_length=320, pattern=EMAIL_PATTERN)
    username: str = Field(min_length=2, max_length=80, pattern=USERNAME_PATTERN)
    password: str = Field(min_length=8, max_length=1024)


class UserPublic(BaseModel):
    id: str
    email: str
    username: str
    is_admin: bool
    created_at: float

    @classmethod
    def of(cls, user: UserRecord) -> UserPublic:
        return cls(
            id=user.id,
            email=user.email,
            username=user.username,
            is_admin=user.is_admin,
            created_at=user.created_at,
        )


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: UserPublic

    @classmethod
    def of(cls, pair: TokenPair) -> TokenResponse:
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
            user=UserPublic.of(pair.user),
        )


class UserPage(BaseModel):
    items: list[UserPublic]
    next_cursor: str | None


# --- apps, members, keys ----------------------------------------------------------------


class AppCreate(Body):
    name: str = Field(min_length=1, max_length=200, pattern=DISPLAY_NAME_PATTERN)
    description: str | None = Field(default=None, max_length=2000, pattern=TEXT_PATTERN)


class AppUpdate(Body):
    name: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=DISPLAY_NAME_PATTERN
    )
    description: str | None = Field(default=None, max_length=2000, pattern=TEXT_PATTERN)
    default_model: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]+/.+$",
        max_length=200,
        description="the model of the app's agents that name none, e.g. `ollama/llama3.2`",
    )
    embedding_model: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]+/.+$",
        max_length=200,
        description="the embeddings model of the app's knowledge store (hybrid search), e.g. "
        "`openai/text-embedding-3-small` or `ollama/nomic-embed-text`; null: full text only",
    )


class AppPublic(BaseModel):
    id: str
    name: str
    description: str | None
    created_at: float
    updated_at: float | None
    role: RoleName | None
    default_model: str | None = None
    embedding_model: str | None = None

    @classmethod
    def of(cls, app: AppRecord) -> AppPublic:
        return cls(
            id=app.id,
            name=app.name,
            description=app.description,
            created_at=app.created_at,
            updated_at=app.updated_at,
            role=app.role,  # type: ignore[arg-type]
            default_model=app.default_model,
            embedding_model=app.embedding_model,
        )


class AppPage(BaseModel):
    items: list[AppPublic]
    next_cursor: str | None


class MemberCreate(Body):
    user: str = Field(min_length=1, max_length=320, description="user id, email or username")
    role: RoleName = "member"


class MemberUpdate(Body):
    role: RoleName


class ApiKeyCreate(Body):
    name: str = Field(min_length=1, max_length=200, pattern=DISPLAY_NAME_PATTERN)
    role: KeyRole = "member"


class ApiKeyPublic(BaseModel):
    id: str
    name: str
    prefix: str
    role: KeyRole
    created_at: float
    last_used_at: float | None
    revoked_at: float | None

    @classmethod
    def of(cls, key: ApiKeyRecord) -> ApiKeyPublic:
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            role=key.role,  # type: ignore[arg-type]
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="the secret; shown this once, send it as X-API-Key")


# --- flows ------------------------------------------------------------------------------


class FlowPublic(BaseModel):
    id: str
    name: str
    version: int
    description: str | None
    shipped: bool
    created_at: float
    definition: dict[str, Any]

    @classmethod
    def of(cls, record: FlowRecord, shipped: bool) -> FlowPublic:
        return cls(
            id=record.id,
            name=record.name,
            version=record.version,
            description=record.definition.get("description"),
            shipped=shipped,
            created_at=record.created_at,
            definition=record.definition,
        )


class FlowVersion(BaseModel):
    id: str
    version: int
    created_at: float


class FlowDetail(FlowPublic):
    versions: list[FlowVersion]


# --- sessions and runs ------------------------------------------------------------------


class SessionCreate(Body):
    flow: Identifier | dict[str, Any] = Field(description="a registered flow's name, or a flow")
    input: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] | None = None
    include_outputs: bool = Field(
        default=False, description="run.succeeded carries every node's output (`outputs`)"
    )
    pending_statuses: bool = Field(
        default=False, description="a node.pending event for every node when the run starts"
    )
    user_id: str | None = Field(
        default=None,
        max_length=200,
        pattern=DISPLAY_NAME_PATTERN,
        description="the end user the session is for (API keys only; a user is always "
        "the session's user)",
    )


class Question(BaseModel):
    interrupt_id: str
    question: str
    choices: list[str] | None
    schema_: dict[str, Any] | None = Field(alias="schema", serialization_alias="schema")
    node_id: str
    run_id: str
    kind: Literal["question", "action", "in_doubt", "budget"] = Field(
        default="question",
        description="`action`: it waits for an action on `artifact_id` (send it there); "
        "`in_doubt`: a side effect's process died inside the call, answer `done` with the "
        "result, `retry` or `fail` with a reason (docs/side-effects.md); "
        "`budget`: a token cap was reached, the answer is a decision (docs/budgets.md)",
    )
    artifact_id: str | None = None

    model_config = ConfigDict(populate_by_name=True)

    @classmethod
    def of(cls, record: InterruptRecord) -> Question:
        return cls.model_validate(
            {
                "interrupt_id": record.id,
                "question": record.question,
                "choices": record.choices,
                "schema": record.schema,
                "node_id": record.node_id,
                "run_id": record.run_id,
                "kind": record.kind,
                "artifact_id": record.artifact_id,
            }
        )


SessionStatus = Literal["active", "waiting", "completed", "failed", "cancelled"]
RunStatus = Literal[
    "queued", "running", "interrupted", "pausing", "paused", "succeeded", "failed", "cancelled"
]


class SessionPublic(BaseModel):
    id: str
    app_id: str
    flow: str | None
    flow_id: str | None
    flow_version: int | None
    user_id: str | None
    status: SessionStatus
    state: dict[str, Any]
    metadata: dict[str, Any] | None
    run_id: str | None
    run_status: RunStatus | None
    pending_question: Question | None
    created_at: float
    updated_at: float

    @classmethod
    def of(cls, view: SessionView) -> SessionPublic:
        s = view.session
        return cls(
            id=s.id,
            app_id=s.app_id,
            flow=view.flow.name if view.flow else None,
            flow_id=s.flow_id,
            flow_version=view.flow.version if view.flow else None,
            user_id=s.user_id,
            status=s.status,  # type: ignore[arg-type]
            state=s.state,
            metadata=s.metadata,
            run_id=view.run.id if view.run else None,
            run_status=view.run.status if view.run else None,  # type: ignore[arg-type]
            pending_question=Question.of(view.questions[0]) if view.questions else None,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )


class SessionPage(BaseModel):
    items: list[SessionPublic]
    next_cursor: str | None


class RunCreate(Body):
    input: dict[str, Any] = Field(default_factory=dict)
    multitask_strategy: Strategy = "enqueue"
    trigger_node_id: str | None = Field(default=None, max_length=128, pattern=IDENTIFIER_PATTERN)
    cached_outputs: dict[str, dict[str, Any]] | None = None
    from_run_id: str | None = Field(default=None, max_length=80)
    include_outputs: bool = Field(
        default=False, description="run.succeeded carries every node's output (`outputs`)"
    )
    pending_statuses: bool = Field(
        default=False, description="a node.pending event for every node when the run starts"
    )

    def options(self) -> dict[str, Any]:
        """The run's options for the editor protocol (docs/api.md)."""
        return run_flags(self.include_outputs, self.pending_statuses)


class AnswerRequest(Body):
    interrupt_id: str = Field(min_length=1, max_length=80)
    answer: Any = Field(description="any JSON value; one of the choices when there are choices")


class ForkRequest(Body):
    step_id: str = Field(min_length=1, max_length=200, pattern=DISPLAY_NAME_PATTERN)
    state_patch: dict[str, Any] | None = Field(
        default=None, description="a JSON Merge Patch (RFC 7396) applied to the step's state"
    )


class StepPublic(BaseModel):
    id: str
    run_id: str
    number: int
    node_id: str
    iteration: int
    attempt: int
    status: str
    output: dict[str, Any] | None
    error: str | None
    started_at: float
    ended_at: float

    @classmethod
    def of(cls, step: StepRecord) -> StepPublic:
        return cls(
            id=step.id,
            run_id=step.run_id,
            number=step.number,
            node_id=step.node_id,
            iteration=step.iteration,
            attempt=step.attempt,
            status=step.status,
            output=step.output,
            error=step.error,
            started_at=step.started_at,
            ended_at=step.ended_at,
        )


class RunPublic(BaseModel):
    id: str
    app_id: str
    session_id: str
    flow_id: str
    status: RunStatus
    input: dict[str, Any] | None
    output: dict[str, Any] | None
    error: str | None
    steps_count: int
    created_at: float
    started_at: float | None
    ended_at: float | None
    available_at: float | None = Field(
        default=None,
        description="a queued run waiting out a node's retry back-off: not claimed before then",
    )
    steps: list[StepPublic] | None = Field(
        default=None, description="a page of the run's steps, in order (GET /runs/{id} only)"
    )
    steps_next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page of steps; null: no more"
    )
    pending_questions: list[Question] | None = None

    @classmethod
    def of(
        cls,
        run: RunRecord,
        steps: list[StepRecord] | None = None,
        questions: list[InterruptRecord] | None = None,
        *,
        steps_next_cursor: str | None = None,
    ) -> RunPublic:
        return cls(
            id=run.id,
            app_id=run.app_id,
            session_id=run.session_id,
            flow_id=run.flow_id,
            status=run.status,  # type: ignore[arg-type]
            input=run.input,
            output=run.output,
            error=run.error,
            steps_count=run.steps_count,
            created_at=run.created_at,
            started_at=run.started_at,
            ended_at=run.ended_at,
            available_at=run.available_at,
            steps=None if steps is None else [StepPublic.of(s) for s in steps],
            steps_next_cursor=steps_next_cursor,
            pending_questions=None if questions is None else [Question.of(q) for q in questions],
        )


class RunQueued(BaseModel):
    run_id: str
    session_id: str
    status: RunStatus


class EventPublic(BaseModel):
    seq: int | None
    id: str | None
    type: str
    app_id: str
    session_id: str | None
    run_id: str | None
    ts: float | None
    data: dict[str, Any]


class EventPage(BaseModel):
    items: list[EventPublic]
    next_since: int


def run_flags(include_outputs: bool, pending_statuses: bool) -> dict[str, Any]:
    """The options of a run that asked for every node's output or pending statuses."""
    options: dict[str, Any] = {}
    if include_outputs:
        options["include_outputs"] = True
    if pending_statuses:
        options["pending_statuses"] = True
    return options
