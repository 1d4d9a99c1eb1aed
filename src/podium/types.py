"""Type aliases shared by every layer; imports nothing of ours."""

import builtins
from typing import Any, Protocol, TypeAlias

JSON: TypeAlias = bool | int | float | str | list[Any] | dict[str, Any] | None
JSONObject: TypeAlias = dict[str, Any]


# What node code reaches through `ctx` (DESIGN §9): the services above the engine implement
# these, and the engine knows only these shapes, not the services.


class NodeArtifacts(Protocol):
    """`ctx.artifacts`: the app's artifacts, as the run (every call recorded once)."""

    async def create(
        self,
        type: str,
        initial_state: dict[str, Any] | None = None,
        *,
        flow: str | None = None,
        session_id: str | None = None,
    ) -> dict[str, Any]: ...

    async def get(self, artifact_id: str) -> dict[str, Any]: ...

    async def update(
        self,
        artifact_id: str,
        state_updates: dict[str, Any],
        *,
        expected_version: int | None = None,
    ) -> dict[str, Any]: ...

    async def attach(self, artifact_id: str, session_id: str | None = None) -> dict[str, Any]: ...

    async def history(self, artifact_id: str) -> builtins.list[dict[str, Any]]: ...

    async def list(
        self, *, session_id: str | None = None, type: str | None = None
    ) -> builtins.list[dict[str, Any]]: ...


class NodeSessions(Protocol):
    """`ctx.sessions`: the app's workflow sessions and their artifacts."""

    async def create_workflow_session(
        self,
        workflow_name: str,
        *,
        user_id: str | None = None,
        input: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...

    async def complete_workflow_session(self, session_id: str | None = None) -> dict[str, Any]: ...

    async def get_workflow_session(self, session_id: str | None = None) -> dict[str, Any]: ...

    async def create_artifact_instance(
        self,
        workflow_name: str | None,
        artifact_type: str,
        initial_state: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
    ) -> dict[str, Any]: ...

    async def attach_artifact_to_session(
        self, session_id: str | None, artifact_id: str
    ) -> dict[str, Any]: ...

    async def update_artifact_state(
        self, artifact_id: str, state_updates: dict[str, Any]
    ) -> dict[str, Any]: ...

    async def get_artifact_instance(self, artifact_id: str) -> dict[str, Any]: ...


class NodeMemory(Protocol):
    """`ctx.memory`: scoped key/value JSON (`session`, `run`, `app`, `user`)."""

    async def get(
        self, key: str, default: Any = None, *, scope: str = "session", scope_id: str | None = None
    ) -> Any: ...

    async def set(
        self,
        key: str,
        value: Any,
        *,
        scope: str = "session",
        ttl: float | None = None,
        scope_id: str | None = None,
    ) -> None: ...

    async def delete(
        self, key: str, *, scope: str = "session", scope_id: str | None = None
    ) -> bool: ...

    async def list(
        self,
        prefix: str = "",
        *,
        scope: str = "session",
        limit: int = 100,
        scope_id: str | None = None,
    ) -> dict[str, Any]: ...


class NodeAgentMessages(Protocol):
    """What `ctx.send_agent_message` calls."""

    async def send(
        self, to: str, type: str, content: Any, *, sender: str | None = None
    ) -> dict[str, Any]: ...
