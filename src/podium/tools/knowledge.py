"""`search_knowledge`: an agent searches the knowledge namespaces its definition allows and
gets passages it can cite.

    search_knowledge(query, namespace=None, k=None)
    → {"query", "mode", "note", "hits": [{"citation": "[podium-docs/durability#0]",
        "namespace", "key", "chunk", "text", "score"}]}

An agent has it only when its definition lists it in `tools` and names the namespaces in
`knowledge` (`podium.agents.definition.KnowledgeOption`). The tool acts through the call's
`ToolContext.knowledge` (an `AgentKnowledge` the agent loop gives, bound to the run's app and
the agent's namespaces), never through namespaces the model chooses: a namespace outside the
agent's list is refused with the list. Each call is a recorded tool call (logged in
`tool_calls`), so a step that runs again repeats no search.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from pydantic import Field

from podium.llm.offline import KNOWLEDGE_CONTEXT, MAX_QUERY_CHARS
from podium.tools.base import ToolContext, tool

TAGS = ("knowledge",)
NAMESPACE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # as the knowledge store names them
RESERVED_PREFIX = "_"  # `_agents`, `_memory`: the services' own namespaces
# A passage longer than this is cut (and says so): k passages must fit in a model's context.
MAX_PASSAGE_CHARS = 4000
_NAMESPACE = re.compile(NAMESPACE_PATTERN)


def namespace_problem(namespace: str) -> str | None:
    """Why `namespace` cannot be one an agent searches (None when it can)."""
    if namespace.startswith(RESERVED_PREFIX):
        return (
            f"namespace {namespace!r} is reserved (names starting with '_' belong to the "
            "server's own indexes); name one of the app's knowledge namespaces, e.g. "
            "'podium-docs'"
        )
    if not _NAMESPACE.fullmatch(namespace):
        return (
            f"{namespace!r} is not a knowledge namespace name: 1-64 letters, digits, '_', "
            "'.' or '-', e.g. 'podium-docs'"
        )
    return None


class KnowledgeRetriever(Protocol):
    """What `search_knowledge` needs of the knowledge service (the runtime's `retriever`)."""

    async def search(
        self, app_id: str, namespaces: list[str], query: str, *, k: int
    ) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class AgentKnowledge:
    """One agent's access to knowledge in a run: its app, its namespaces, its default `k`
    and the server's cap on `k`."""

    retriever: Callable[[], KnowledgeRetriever]  # resolved on first use
    app_id: str
    agent: str
    namespaces: tuple[str, ...]
    k: int
    k_cap: int

    async def search(
        self, query: str, namespace: str | None = None, k: int | None = None
    ) -> dict[str, Any]:
        """The passages of the agent's namespaces (or of `namespace`, one of them) that match
        `query`, best first, each with its citation. ValueError says what is wrong."""
        query = query.strip()
        if not query:
            raise ValueError("the query is empty; give the words to look for")
        if len(query) > MAX_QUERY_CHARS:
            raise ValueError(
                f"the query has {len(query)} characters, over the {MAX_QUERY_CHARS} a search "
                "takes; ask about one thing at a time"
            )
        if namespace is not None and namespace not in self.namespaces:
            raise ValueError(
                f"agent {self.agent!r} may not search namespace {namespace!r}; its "
                f"namespaces are {list(self.namespaces)} (leave namespace out to search all)"
            )
        k = self.k if k is None else k
        if not 1 <= k <= self.k_cap:
            raise ValueError(
                f"k must be between 1 and {self.k_cap} (PODIUM_AGENT_KNOWLEDGE_K_CAP), not {k}"
            )
        wanted = [namespace] if namespace is not None else list(self.namespaces)
        found = await self.retriever().search(self.app_id, wanted, query, k=k)
        return {
            "query": query,
            "namespaces": wanted,
            "mode": found.get("mode", "text"),
            "note": found.get("note"),
            "hits": [passage(hit) for hit in found.get("hits", [])[:k]],
        }


def citation(hit: dict[str, Any]) -> str:
    """How a passage is cited: `[namespace/key#chunk]`."""
    return f"[{hit['namespace']}/{hit['key']}#{hit['chunk']}]"


def passage(hit: dict[str, Any]) -> dict[str, Any]:
    """A search hit as the model reads it: its citation first, its text (cut when long)."""
    text = str(hit.get("text", ""))
    shaped: dict[str, Any] = {
        "citation": citation(hit),
        "namespace": hit["namespace"],
        "key": hit["key"],
        "chunk": hit["chunk"],
        "text": text[:MAX_PASSAGE_CHARS],
        "score": hit.get("score"),
    }
    if len(text) > MAX_PASSAGE_CHARS:
        shaped["truncated"] = True
    return shaped


def context_message(result: dict[str, Any]) -> str:
    """The message put before the first model call: each passage under its citation."""
    lines = [
        f"{KNOWLEDGE_CONTEXT} (from {', '.join(result['namespaces'])}; cite what you use by "
        "its [namespace/key#chunk]):"
    ]
    if not result["hits"]:
        lines.append("")
        lines.append("(nothing found)")
    for hit in result["hits"]:
        lines += ["", hit["citation"], hit["text"]]
    return "\n".join(lines)


def knowledge_of(ctx: ToolContext) -> AgentKnowledge:
    """The call's knowledge access; a tool called for an agent without knowledge is told so."""
    if ctx.knowledge is None:
        raise ValueError(
            "search_knowledge works only for an agent whose definition names its knowledge "
            'namespaces: "knowledge": {"namespaces": ["podium-docs"]}'
        )
    access: AgentKnowledge = ctx.knowledge
    return access


@tool(tags=TAGS)
async def search_knowledge(
    ctx: ToolContext,
    query: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS)],
    namespace: Annotated[str, Field(min_length=1, max_length=64)] | None = None,
    k: Annotated[int, Field(ge=1)] | None = None,
) -> dict[str, Any]:
    """Search the knowledge base for passages about a question; cite each passage you use by
    its citation, e.g. [podium-docs/durability#0].

    Args:
        query: What to look for: the question, or its key words.
        namespace: Search only this namespace (one of the agent's; all of them when omitted).
        k: How many passages at most (the agent's default when omitted).
    """
    return await knowledge_of(ctx).search(query, namespace, k)
