"""The graphs that `benchmarks/api.py` serves with `langgraph dev`.

* ``chain``: 10 trivial nodes ``n0`` -> ... -> ``n9``, each writing ``"x"`` under its own name
  (as the Podium flow's ``template`` nodes do with ``output_key``);
* ``ask``: ``ask`` (an ``interrupt()`` whose resume value lands in ``answer``) followed by
  the same chain.

`benchmarks/api.py` writes a ``langgraph.json`` naming this file into a temporary directory
and runs ``langgraph dev`` there; nothing here is imported by Podium.
"""

from __future__ import annotations

import itertools
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

NODES = [f"n{i}" for i in range(10)]

State = TypedDict("State", {"answer": str, **dict.fromkeys(NODES, str)}, total=False)


def _node(name: str) -> Any:
    def node(state: dict[str, Any]) -> dict[str, str]:
        return {name: "x"}

    node.__name__ = name
    return node


def _ask(state: dict[str, Any]) -> dict[str, str]:
    return {"answer": str(interrupt("Go?"))}


def _build(ask: bool) -> Any:
    builder = StateGraph(State)
    for name in NODES:
        builder.add_node(name, _node(name))
    first = NODES[0]
    if ask:
        builder.add_node("ask", _ask)
        builder.add_edge("ask", first)
        first = "ask"
    builder.add_edge(START, first)
    for prev, nxt in itertools.pairwise(NODES):
        builder.add_edge(prev, nxt)
    builder.add_edge(NODES[-1], END)
    return builder.compile()


chain = _build(ask=False)
ask = _build(ask=True)
