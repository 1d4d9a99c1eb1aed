"""The flow model: Flow / Node / Edge, as a visual editor saves them or Python builds them.

Extra keys (positions, viewport, labels) are kept and ignored, so a flow round-trips through
an editor unchanged.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# A flow's name and its nodes' ids: letters, digits and _ . : - (DESIGN §8: names have
# character rules; a NUL or a 500,000-character id is refused where the flow is read).
NAME_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"


class Rule(BaseModel):
    """A condition over `{state, output}`: `field` is JMESPath."""

    model_config = ConfigDict(extra="forbid")

    field: str
    operator: str = "=="
    value: Any = None


class Edge(BaseModel):
    model_config = ConfigDict(extra="allow")

    source: str
    target: str
    condition: Rule | None = None
    loop: bool = False
    max_iterations: int | None = Field(default=None, ge=1)

    @property
    def label(self) -> str:
        return f"{self.source} → {self.target}"


class Retry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=1, ge=1, le=100)
    backoff_seconds: float = Field(default=0.0, ge=0)


class Node(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=128, pattern=NAME_PATTERN)
    type: str
    config: dict[str, Any] = Field(default_factory=dict)
    join: Literal["any", "all"] = "any"
    on_error: Literal["fail", "continue"] = "fail"
    retry: Retry = Field(default_factory=Retry)
    timeout_seconds: float | None = Field(default=None, gt=0)


class StateSpec(BaseModel):
    model_config = ConfigDict(extra="allow")

    reducers: dict[str, str] = Field(default_factory=dict)


class Limits(BaseModel):
    """Per-flow limits; unset ones come from the server settings."""

    model_config = ConfigDict(extra="forbid")

    max_steps: int | None = Field(default=None, ge=1)
    timeout_seconds: float | None = Field(default=None, gt=0)


class Flow(BaseModel):
    """A graph of nodes and edges. `validate_flow` checks what pydantic cannot."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=128, pattern=NAME_PATTERN)
    version: int = 1
    description: str = ""
    # The model of the flow's agents that name none (DESIGN §3.13), e.g. "ollama/llama3.2".
    default_model: str | None = None
    state: StateSpec = Field(default_factory=StateSpec)
    limits: Limits = Field(default_factory=Limits)
    nodes: list[Node]
    edges: list[Edge] = Field(default_factory=list)

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def definition(self) -> dict[str, Any]:
        """The flow as JSON (what is stored and what an editor loads)."""
        return self.model_dump(mode="json", exclude_defaults=False)
