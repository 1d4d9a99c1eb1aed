"""Every event type, `domain.action` (DESIGN §5). Persisted unless marked live-only."""

RUN_QUEUED = "run.queued"
RUN_STARTED = "run.started"
RUN_INTERRUPTED = "run.interrupted"
RUN_SUCCEEDED = "run.succeeded"
RUN_FAILED = "run.failed"
RUN_CANCELLED = "run.cancelled"
RUN_PAUSED = "run.paused"

NODE_PENDING = "node.pending"  # every node, when a run asked for it starts (editor protocol)
NODE_STARTED = "node.started"
NODE_COMPLETED = "node.completed"
NODE_FAILED = "node.failed"
NODE_SKIPPED = "node.skipped"
NODE_INTERRUPTED = "node.interrupted"

SESSION_CREATED = "session.created"
SESSION_COMPLETED = "session.completed"

MESSAGE_CREATED = "message.created"
MESSAGE_DELTA = "message.delta"
TOOL_CALLED = "tool.called"
AGENT_STATUS = "agent.status"
AGENT_MESSAGE = "agent.message"
# A token cap was reached before an LLM call: the run waits for a decision (docs/budgets.md).
BUDGET_EXCEEDED = "budget.exceeded"
ARTIFACT_CREATED = "artifact.created"
ARTIFACT_STATE_UPDATED = "artifact.state.updated"
MEMORY_UPDATED = "memory.updated"
# The knowledge store: a batch of documents written (one event per batch), how far a large
# batch has got, documents deleted.
KNOWLEDGE_INGESTED = "knowledge.ingested"
KNOWLEDGE_INGEST_PROGRESS = "knowledge.ingest.progress"
KNOWLEDGE_DELETED = "knowledge.deleted"

# Sent to subscribers as they happen but not written to the log: a client that reconnects
# learns the outcome from the persisted event that follows (node.completed, message.created).
LIVE_ONLY = frozenset({NODE_STARTED, MESSAGE_DELTA})

# The run stopped executing: it ended, or it waits (for an answer, or to be resumed).
RUN_ENDED = {
    "succeeded": RUN_SUCCEEDED,
    "failed": RUN_FAILED,
    "cancelled": RUN_CANCELLED,
    "interrupted": RUN_INTERRUPTED,
    "paused": RUN_PAUSED,
}
RUN_OUTCOMES = frozenset(RUN_ENDED.values())

# A schedule's due time came: `{schedule_id, name, due_at, outcome, missed}`; the outcome is
# `started`, `enqueued` (behind the previous run), `cancelled_previous`, `skipped` (the
# previous run was still active) or `failed` (its flow is gone).
SCHEDULE_FIRED = "schedule.fired"
# A webhook was disabled after too many failed deliveries in a row:
# `{webhook_id, failures, reason}`; PATCH it with `{"enabled": true}` to enable it again.
WEBHOOK_DISABLED = "webhook.disabled"
