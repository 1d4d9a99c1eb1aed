"""Defining flows in Python: a small builder over the same model JSON flows use.

    flow = (
        FlowBuilder("greet", reducers={"visited": "append"})
        .python("hello", hello)          # hello is `async def hello(ctx) -> dict | None`
        .template("card", "Hi {{ name }}")
        .edge("hello", "card")
        .build()
    )

Functions are stored by reference (`module:qualname`), so a worker in another process can
import them: define them at module level, not inside another function.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from podium.engine.flow import Edge, Flow, Node, Rule


def function_ref(function: Callable[..., Any]) -> str:
    """`module:qualname` of a module-level function."""
    qualname = function.__qualname__
    if "<lambda>" in qualname:
        raise ValueError(
            "a lambda cannot be a flow's function: define a named function at module level"
        )
    if "<locals>" in qualname:
        raise ValueError(
            f"{qualname} is defined inside a function; a flow's functions must be importable "
            "(define it at module level)"
        )
    return f"{function.__module__}:{qualname}"


class FlowBuilder:
    def __init__(
        self,
        name: str,
        *,
        reducers: dict[str, str] | None = None,
        max_steps: int | None = None,
        timeout_seconds: float | None = None,
    ) -> None:
        self._data: dict[str, Any] = {
            "name": name,
            "state": {"reducers": dict(reducers or {})},
            "limits": {"max_steps": max_steps, "timeout_seconds": timeout_seconds},
            "nodes": [],
            "edges": [],
        }

    def node(
        self, node_id: str, type: str, config: dict[str, Any] | None = None, **options: Any
    ) -> FlowBuilder:
        """Add a node of any registered type (`join`, `on_error`, `retry`, `timeout_seconds`)."""
        self._data["nodes"].append({"id": node_id, "type": type, "config": config or {}, **options})
        return self

    def python(
        self, node_id: str, function: Callable[..., Any] | str, **options: Any
    ) -> FlowBuilder:
        ref = function if isinstance(function, str) else function_ref(function)
        return self.node(node_id, "python", {"function": ref}, **options)

    def router(
        self, node_id: str, rules: list[dict[str, Any]], default: str | None = None, **options: Any
    ) -> FlowBuilder:
        config: dict[str, Any] = {"rules": rules}
        if default is not None:
            config["default"] = default
        return self.node(node_id, "router", config, **options)

    def human(
        self,
        node_id: str,
        question: str,
        *,
        choices: list[str] | None = None,
        output_key: str | None = None,
        **options: Any,
    ) -> FlowBuilder:
        config: dict[str, Any] = {"question": question}
        if choices is not None:
            config["choices"] = choices
        if output_key is not None:
            config["output_key"] = output_key
        return self.node(node_id, "human", config, **options)

    def template(
        self, node_id: str, template: str, *, output_key: str | None = None, **options: Any
    ) -> FlowBuilder:
        config: dict[str, Any] = {"template": template}
        if output_key is not None:
            config["output_key"] = output_key
        return self.node(node_id, "template", config, **options)

    def output(self, node_id: str, keys: list[str] | None = None, **options: Any) -> FlowBuilder:
        return self.node(node_id, "output", {} if keys is None else {"keys": keys}, **options)

    def edge(
        self,
        source: str,
        target: str,
        *,
        when: Rule | dict[str, Any] | None = None,
        loop: bool = False,
        max_iterations: int | None = None,
    ) -> FlowBuilder:
        edge: dict[str, Any] = {"source": source, "target": target}
        if when is not None:
            edge["condition"] = when.model_dump() if isinstance(when, Rule) else when
        if loop:
            edge |= {"loop": True, "max_iterations": max_iterations}
        self._data["edges"].append(edge)
        return self

    def chain(self, *node_ids: str) -> FlowBuilder:
        """Edges between consecutive nodes: `chain("a", "b", "c")` is a → b → c."""
        for source, target in itertools.pairwise(node_ids):
            self.edge(source, target)
        return self

    def build(self) -> Flow:
        return Flow.model_validate(self._data)


__all__ = ["Edge", "FlowBuilder", "Node", "function_ref"]
