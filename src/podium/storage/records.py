"""What the store reads and writes, as plain dataclasses (no ORM objects leave storage)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from podium.events.envelope import Event

# A run in one of these is its session's active run (DESIGN §3.16): it holds the session even
# while paused, so that the multitask strategies treat it as active.
ACTIVE_RUN_STATUSES = ("queued", "running", "interrupted", "pausing", "paused")
ENDED_RUN_STATUSES = ("succeeded", "failed", "cancelled")
# Every status a run can have (DESIGN: Run; pausing in docs/engine.md).
RUN_STATUSES = (*ACTIVE_RUN_STATUSES, *ENDED_RUN_STATUSES)


@dataclass(slots=True)
class FlowRecord:
    id: str
    app_id: str
    name: str
    version: int
    definition: dict[str, Any]
    base_path: str | None
    created_at: float


@dataclass(slots=True)
class SessionRecord:
    id: str
    app_id: str
    flow_id: str | None
    user_id: str | None
    status: str
    state: dict[str, Any]
    metadata: dict[str, Any] | None
    created_at: float
    updated_at: float


@dataclass(slots=True)
class RunRecord:
    id: str
    app_id: str
    session_id: str
    flow_id: str
    status: str
    input: dict[str, Any] | None
    options: dict[str, Any] | None
    progress: dict[str, Any] | None
    output: dict[str, Any] | None
    error: str | None
    fence: int
    worker_id: str | None
    lease_until: float | None
    steps_count: int
    elapsed: float
    created_at: float
    queued_at: float | None
    started_at: float | None
    ended_at: float | None
    # A queued run waiting out a node's retry back-off: no worker claims it before this time.
    available_at: float | None = None


@dataclass(slots=True)
class StepRecord:
    id: str
    run_id: str
    node_id: str
    iteration: int
    attempt: int
    status: str
    output: dict[str, Any] | None
    error: str | None
    started_at: float
    ended_at: float
    number: int = 0  # the step's place in its run (1, 2, …); `id` is derived from it
    # `output` as JSON text when the engine already made it (the step row stores it as is).
    output_json: str | None = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class InterruptRecord:
    id: str
    app_id: str
    run_id: str
    session_id: str
    node_id: str
    iteration: int
    call_key: str
    question: str
    choices: list[str] | None
    schema: dict[str, Any] | None
    status: str
    answer: Any
    created_at: float
    answered_at: float | None
    kind: str = "question"  # or "action": waits for an action on `artifact_id`
    artifact_id: str | None = None


@dataclass(slots=True)
class Claim:
    """A run this worker now holds: its row, the session's state and the recorded calls."""

    run: RunRecord
    state_json: str
    calls: dict[tuple[str, int, str], Any]
    more_queued: bool = False  # other runs were still queued when this one was claimed


@dataclass(slots=True)
class StepCommit:
    """Everything a step's end changes, written in one transaction (DESIGN §3.10)."""

    run_id: str
    app_id: str
    session_id: str
    fence: int
    progress: dict[str, Any]
    steps_count: int
    elapsed: float
    steps: list[StepRecord] = field(default_factory=list)
    state_json: str | None = None  # None: the state did not change
    events: list[Event] = field(default_factory=list)
    interrupts: list[InterruptRecord] = field(default_factory=list)
    # Recorded calls written with the step's end: (node_id, iteration, key, result).
    calls: list[tuple[str, int, str, Any]] = field(default_factory=list)
    run_status: str | None = None  # set when the run ends, waits or pauses
    run_output: dict[str, Any] | None = None
    # Every node's latest output, in `run.succeeded` when the run asked for it
    # (`include_outputs`, the editor protocol: docs/api.md).
    node_outputs: dict[str, Any] | None = None
    run_error: str | None = None
    # The run stops to wait out a retry back-off (run_status `queued`, or `paused` or
    # `interrupted`): no worker claims it before `available_at`; `retry` says why, in its event.
    available_at: float | None = None
    retry: dict[str, Any] | None = None
    # PODIUM_MAX_EVENT_BYTES: the run's outcome event leaves out what would make it larger
    # (podium.storage.event_bounds); None writes it whole.
    max_event_bytes: int | None = None


@dataclass(slots=True)
class StepCommitted:
    """What a step commit wrote, and what the executor must know before it goes on."""

    events: list[Event]
    # The run's status as stored when the commit changed it (`paused` when a pause request
    # won over waiting or queueing); None when the run goes on.
    run_status: str | None = None
    # The run is `pausing`: start no new node, and pause once nothing executes.
    pause_requested: bool = False
