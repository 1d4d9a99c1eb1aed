"""Errors a user can see. Each carries a stable `code` and a message that says what to do."""

from typing import Any


class PodiumError(Exception):
    """Base of every error Podium raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(PodiumError):
    code = "not_found"


class Conflict(PodiumError):
    code = "conflict"


class InvalidInput(PodiumError):
    code = "invalid_input"


class JSONValueInvalid(InvalidInput):
    """A JSON value refused at the one JSON boundary: nested too deep, a NUL character,
    NaN/Infinity, a string or key over its length cap, or not JSON at all (answered 422 with
    `details.path` and, for a cap, `details.setting`)."""

    code = "json_invalid"


class AnswerInvalid(InvalidInput):
    """An answer its question's schema refuses, e.g. to an `in_doubt` question (answered 422
    with the schema in `details.schema`)."""


class LimitTooHigh(InvalidInput):
    """A flow, agent or request asking for more than a server cap allows (answered 422 with
    `details.setting` naming the cap and `details.cap` its value)."""

    code = "limit_too_high"


class NotAllowed(InvalidInput):
    """Something the server's policy keeps from tenants: a stdio MCP server (the operator
    offers those), an outbound address the egress policy refuses (answered 422, with
    `details.setting` naming what the operator can change)."""

    code = "not_allowed"


class KnowledgeInvalid(InvalidInput):
    """A knowledge-store request the store cannot take: a bad namespace, key, document,
    query or filter (answered 422 with a message naming what to change)."""


class UpstreamFailed(PodiumError):
    """A model provider that a request needed failed, e.g. the embeddings of documents being
    stored (answered 502, naming the provider and model; nothing was changed)."""

    code = "upstream_failed"


class PreconditionFailed(PodiumError):
    """A conditional write whose condition no longer holds, e.g. an `If-Match` version that
    is not the current one (answered 412 with the current version in `details`)."""

    code = "precondition_failed"


class PayloadTooLarge(PodiumError):
    """A value over its size bound, e.g. a memory value (answered 413 with the bound in
    `details.max_bytes`)."""

    code = "payload_too_large"


class UnsupportedMediaType(PodiumError):
    """A request body in a content type the route does not read (answered 415)."""

    code = "unsupported_media_type"


class AgentInvalid(InvalidInput):
    """An agent definition with problems (answered 422 with `details.problems`, as an invalid
    flow is), whichever check found them."""


class WorkflowInvalid(InvalidInput):
    """A workflow request (`/workflows/execute`) whose pattern, agents, config or input cannot
    make a workflow (answered 422)."""


class ScheduleInvalid(InvalidInput):
    """A schedule whose cron expression, time zone, flow or input cannot be (answered 422,
    `details.field` naming the field)."""

    code = "schedule_invalid"


class WebhookInvalid(InvalidInput):
    """A webhook whose URL or event types cannot be (answered 422, `details.field`)."""

    code = "webhook_invalid"


def shown_name(name: str, limit: int = 80) -> str:
    """`name` quoted for a message, cut to `limit` characters: a refused name may be huge."""
    return repr(name) if len(name) <= limit else repr(name[: limit - 3] + "...")


class FlowInvalid(PodiumError):
    """A flow definition with one or more problems, one message per problem."""

    code = "flow_invalid"

    def __init__(self, flow_name: str, problems: list[str]) -> None:
        self.flow_name = flow_name
        self.problems = problems
        super().__init__(
            f"flow {shown_name(flow_name)} is invalid: " + "; ".join(problems),
            details={"problems": problems},
        )


class WorkflowGraphInvalid(PodiumError):
    """A workflow graph (a pack's gates and journeys) with problems, one message per problem
    (answered 422 with `details.problems`, as an invalid flow is)."""

    code = "workflow_graph_invalid"

    def __init__(self, graph_name: str, problems: list[str]) -> None:
        self.graph_name = graph_name
        self.problems = problems
        super().__init__(
            f"workflow graph {shown_name(graph_name)} is invalid: " + "; ".join(problems),
            details={"problems": problems},
        )


class PrerequisiteNotMet(PodiumError):
    """A gated flow started before its user completed the flows it requires (answered 409
    with `details.missing`)."""

    code = "prerequisite_not_met"

    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message, details={"missing": missing})
        self.missing = missing


class StateNotJSON(PodiumError):
    """A node returned a value that cannot be stored as JSON."""

    code = "state_not_json"


class LimitExceeded(PodiumError):
    """A run hit one of its limits (steps, time, loop iterations, call timeout)."""

    code = "limit_exceeded"


class LeaseLost(PodiumError):
    """This worker's claim on a run was taken over; it must stop writing for that run."""

    code = "lease_lost"


class StoreUnavailable(PodiumError):
    """The database connection was lost in the middle of a call (a restart, a network cut, or
    PostgreSQL ending a session that sat idle inside a transaction). Nothing of the call was
    committed; trying again later is safe."""

    code = "store_unavailable"


class RunCancelled(PodiumError):
    code = "run_cancelled"


class Unauthorized(PodiumError):
    """No credentials, or credentials that are not valid (answered 401)."""

    code = "unauthorized"


class Forbidden(PodiumError):
    """Valid credentials whose role does not allow the action (answered 403)."""

    code = "forbidden"


class RateLimited(PodiumError):
    """Too many requests or messages for one user or key (answered 429)."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


class LogTruncated(PodiumError):
    """A read of the event log after a `since` older than the oldest event kept: the events
    between were pruned by the retention policy (answered 410 with `details.oldest_seq`;
    docs/retention.md)."""

    code = "log_truncated"
