"""Tools that reach the session an agent works in: its artifacts, the app's memory, agent
messages, and a question to the user.

    list_artifacts       the session's artifacts: id, type, version
    read_artifact        one of them: its state (or some of its top-level keys)
    patch_artifact       change it with a JSON Merge Patch: the next version
    read_memory          one memory key of a scope (session, run, app, user)
    list_memory          the keys of a scope that start with a prefix, with their values
    write_memory         set a key (a null value deletes it), optionally expiring
    send_agent_message   a request, response, notification or handoff to another agent
    ask_user             a clarifying question: the run waits for the answer

An agent has one only when its definition lists it (`tools`). They act through the call's
`ToolContext.session` (a `SessionAccess` the agent loop gives, bound to the run's app,
session and run), never through ids the model chooses: an artifact is reachable only when it
is attached to the session (`ToolContext.artifact_ids`), memory only in the scopes of this
run. Each call is a recorded tool call, so a step that runs again repeats none of them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol

from pydantic import Field

from podium.storage.script import dumps
from podium.tools.base import Tool, ToolContext, tool

TAGS = ("session",)
MemoryScope = Literal["session", "run", "app", "user"]
MessageType = Literal["request", "response", "notification", "handoff"]
# What one call may read back to the model: an artifact's state or memory values above this
# are refused with a hint (read fewer keys) rather than cut (a cut JSON misleads).
MAX_READ_BYTES = 32_768
MAX_PATCH_BYTES = 65_536
MAX_LIST = 50
MEMORY_KEY = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:@-]+$")]


class SessionAccess(Protocol):
    """What the session tools need of the run they are called in (the agent loop's)."""

    async def list_artifacts(self) -> list[dict[str, Any]]: ...

    async def read_artifact(self, artifact_id: str) -> dict[str, Any]: ...

    async def patch_artifact(
        self, artifact_id: str, patch: dict[str, Any], expected_version: int | None
    ) -> dict[str, Any]: ...

    async def read_memory(self, scope: str, key: str) -> tuple[bool, Any]: ...

    async def list_memory(self, scope: str, prefix: str, limit: int) -> dict[str, Any]: ...

    async def write_memory(
        self, scope: str, key: str, value: Any, ttl_seconds: float | None
    ) -> None: ...

    async def send_agent_message(self, to: str, type: str, content: Any) -> dict[str, Any]: ...

    async def ask_user(self, question: str, choices: list[str] | None) -> Any: ...


def session_of(ctx: ToolContext) -> SessionAccess:
    """The call's session; a tool called outside a run (no session) is told so."""
    if ctx.session is None:
        raise ValueError("this tool works only inside a run of a session (an agent or a tool node)")
    access: SessionAccess = ctx.session
    return access


def _check_attached(ctx: ToolContext, artifact_id: str) -> None:
    if artifact_id not in ctx.artifact_ids:
        raise ValueError(
            f"artifact {artifact_id!r} is not found in this session; its artifacts are "
            f"{list(ctx.artifact_ids)} (list_artifacts describes them)"
        )


def _fits(what: str, value: Any, cap: int, hint: str) -> Any:
    size = len(dumps(value).encode())
    if size > cap:
        raise ValueError(f"{what} is {size} bytes of JSON, over the {cap} a call may hold; {hint}")
    return value


@tool(tags=TAGS)
async def list_artifacts(ctx: ToolContext) -> dict[str, Any]:
    """List the artifacts of this session (id, type, version), oldest first."""
    found = await session_of(ctx).list_artifacts()
    return {"artifacts": found[:MAX_LIST], "more": len(found) > MAX_LIST}


@tool(tags=TAGS)
async def read_artifact(
    ctx: ToolContext,
    artifact_id: Annotated[str, Field(min_length=1, max_length=80)],
    keys: Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=50)]
    | None = None,
) -> dict[str, Any]:
    """Read an artifact of this session: its type, version and state.

    Args:
        artifact_id: The artifact's id (see list_artifacts).
        keys: Only these top-level keys of the state (all of it when omitted).
    """
    _check_attached(ctx, artifact_id)
    artifact = await session_of(ctx).read_artifact(artifact_id)
    state = artifact.get("state") or {}
    if keys is not None:
        state = {key: state[key] for key in keys if key in state}
    result = {
        "id": artifact["id"],
        "type": artifact["type"],
        "version": artifact["version"],
        "state": state,
    }
    return _fits(  # type: ignore[no-any-return]
        f"artifact {artifact_id}'s state",
        result,
        MAX_READ_BYTES,
        f"read some of its keys ({sorted(state)[:20]}) with `keys`",
    )


@tool(tags=TAGS)
async def patch_artifact(
    ctx: ToolContext,
    artifact_id: Annotated[str, Field(min_length=1, max_length=80)],
    patch: dict[str, Any],
    expected_version: Annotated[int, Field(ge=1)] | None = None,
) -> dict[str, Any]:
    """Change an artifact of this session: a JSON Merge Patch (only the keys given change; a
    null removes a key) makes its next version, which clients see at once.

    Args:
        artifact_id: The artifact's id (see list_artifacts).
        patch: The keys to change, e.g. {"progress": 50, "status": "building"}.
        expected_version: Refuse the change unless the artifact is at this version.
    """
    _check_attached(ctx, artifact_id)
    _fits("the patch", patch, MAX_PATCH_BYTES, "send a smaller change")
    artifact = await session_of(ctx).patch_artifact(artifact_id, patch, expected_version)
    return {"id": artifact["id"], "version": artifact["version"]}


@tool(tags=TAGS)
async def read_memory(
    ctx: ToolContext, key: MEMORY_KEY, scope: MemoryScope = "session"
) -> dict[str, Any]:
    """Read a key of the app's memory.

    Args:
        key: The key, e.g. "customer.preferences".
        scope: Whose memory: this session's (default), this run's, the app's, or the
            session's user's.
    """
    found, value = await session_of(ctx).read_memory(scope, key)
    result = {"key": key, "scope": scope, "found": found, "value": value}
    return _fits(f"memory key {key!r}", result, MAX_READ_BYTES, "store smaller values")  # type: ignore[no-any-return]


@tool(tags=TAGS)
async def list_memory(
    ctx: ToolContext,
    prefix: Annotated[str, Field(max_length=200, pattern=r"^[A-Za-z0-9_.:@-]*$")] = "",
    scope: MemoryScope = "session",
    limit: Annotated[int, Field(ge=1, le=MAX_LIST)] = 20,
) -> dict[str, Any]:
    """List the keys of a memory scope that start with a prefix, with their values.

    Args:
        prefix: The start of the keys, e.g. "customer." (all keys when empty).
        scope: Whose memory: this session's (default), this run's, the app's, or the
            session's user's.
        limit: How many keys at most.
    """
    entries = await session_of(ctx).list_memory(scope, prefix, limit)
    result = {"scope": scope, "entries": entries}
    return _fits("the entries", result, MAX_READ_BYTES, "list fewer keys (limit, prefix)")  # type: ignore[no-any-return]


@tool(tags=TAGS)
async def write_memory(
    ctx: ToolContext,
    key: MEMORY_KEY,
    value: Any,
    scope: MemoryScope = "session",
    ttl_seconds: Annotated[float, Field(gt=0, le=31_536_000)] | None = None,
) -> dict[str, Any]:
    """Remember a value under a key of the app's memory (null forgets the key).

    Args:
        key: The key, e.g. "customer.preferences".
        value: Any JSON value; null deletes the key.
        scope: Whose memory: this session's (default), this run's, the app's, or the
            session's user's.
        ttl_seconds: Forget it after this many seconds (kept until replaced when omitted).
    """
    await session_of(ctx).write_memory(scope, key, value, ttl_seconds)
    return {"key": key, "scope": scope, "deleted" if value is None else "written": True}


@tool(tags=TAGS)
async def send_agent_message(
    ctx: ToolContext,
    to: Annotated[str, Field(min_length=1, max_length=64)],
    type: MessageType,
    content: Any,
) -> dict[str, Any]:
    """Send a message to another agent of this run (it is stored and streamed).

    Args:
        to: The receiving agent's name.
        type: request, response, notification, or handoff (pass control to `to`).
        content: The message: text or any JSON value.
    """
    record = await session_of(ctx).send_agent_message(to, type, content)
    return {"sent": record["id"], "to": to, "type": type}


@tool(tags=TAGS)
async def ask_user(
    ctx: ToolContext,
    question: Annotated[str, Field(min_length=1, max_length=2000)],
    choices: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=20)
    ]
    | None = None,
) -> dict[str, Any]:
    """Ask the user a clarifying question and wait for the answer (the run pauses until it
    comes; nothing done before is done again).

    Args:
        question: The question, self-contained.
        choices: The answers to choose from, when there are only a few.
    """
    answer = await session_of(ctx).ask_user(question, choices or None)
    return {"question": question, "answer": answer}


TOOLS: list[Tool] = [
    list_artifacts,
    read_artifact,
    patch_artifact,
    read_memory,
    list_memory,
    write_memory,
    send_agent_message,
    ask_user,
]
ASK_USER = ask_user.name
