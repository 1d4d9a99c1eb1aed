"""The agent directory: every agent an app can run, indexed in the knowledge store's
reserved namespace `_agents` and searched by capability ("weather", "schedule a meeting").

What is indexed: each enabled agent the app sees — the built-in ones, those its packs
defined, those it created or generated — as one document keyed by its name, whose text is
the name, the description, the capabilities' description and tags and the tool names, and
whose metadata is `{name, tags, source, digest}`. Disabled agents are left out.

How it stays current: before each search the directory reads the app's definitions (one
query) and compares a checksum of them with the one it last indexed in this process. When
they differ (the first search in a process, or an agent created, changed, disabled, enabled
or deleted in any process), it reconciles the index by each document's `digest`: it puts
the agents whose definition changed and deletes the ones gone or disabled. So the index
never answers with an agent the app no longer has, with no hook in the agents' routes, and
several processes sharing a database converge on the same index.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podium.agents.builtin import BUILTIN_AGENTS
from podium.agents.definition import AgentDefinition
from podium.agents.services import AgentServices
from podium.errors import InvalidInput, LimitTooHigh

NAMESPACE = "_agents"
MAX_QUERY_CHARS = 500
# Documents listed per page while reconciling the index.
PAGE = 100


@dataclass(frozen=True, slots=True)
class AgentMatch:
    """One agent the directory found: its score and the query's words it matched."""

    agent: str
    description: str
    score: float
    matched: list[str]
    tags: list[str]
    source: str

    @property
    def reasons(self) -> str:
        words = ", ".join(self.matched) if self.matched else "no word of the query"
        return f"matched {words} in its name, description, capabilities or tools"

    def to_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "description": self.description,
            "score": self.score,
            "matched": self.matched,
            "reasons": self.reasons,
            "tags": self.tags,
            "source": self.source,
        }


def agent_text(agent: AgentDefinition) -> str:
    """What the directory indexes of an agent (the words a capability request matches)."""
    words = agent.name.replace("_", " ").replace("-", " ")
    parts = [
        f"{agent.name} ({words})",
        agent.description,
        agent.capabilities.description,
        "Capabilities: " + ", ".join(agent.capabilities.tags),
        "Tools: " + ", ".join(tool.replace("_", " ") for tool in agent.tools),
    ]
    return "\n".join(part for part in parts if part.strip())


def agent_digest(agent: AgentDefinition, source: str) -> str:
    indexed = {"text": agent_text(agent), "tags": agent.capabilities.tags, "source": source}
    return hashlib.sha256(json.dumps(indexed, sort_keys=True).encode()).hexdigest()[:32]


class AgentDirectory:
    """Search an app's agents by capability (one per runtime: the `agent_directory`
    runtime service)."""

    def __init__(
        self,
        agents: AgentServices,
        knowledge: Any,
        pack_agents: Mapping[str, str] | None = None,
    ) -> None:
        self.agents = agents
        self.settings = agents.settings
        # `podium.knowledge.service.KnowledgeService`
        self.knowledge = knowledge
        # agent name → the pack that defines it, for `source` ("pack:<name>").
        self.pack_agents = dict(pack_agents or {})
        self._indexed: dict[str, str] = {}  # app → checksum of what this process indexed
        # One reconciliation per app at a time in this process (concurrent searches wait
        # for it rather than writing the same documents together).
        self._locks: dict[str, asyncio.Lock] = {}

    def source(self, name: str, builtin: bool) -> str:
        if name in self.pack_agents:
            return f"pack:{self.pack_agents[name]}"
        return "builtin" if builtin else "app"

    async def visible(self, app_id: str) -> dict[str, tuple[AgentDefinition, str]]:
        """The app's enabled agents with their source."""
        found = await self.agents.all_definitions(app_id)
        return {
            name: (agent, self.source(name, _is_builtin(name, agent)))
            for name, agent in found.items()
            if agent.enabled
        }

    async def sync(self, app_id: str) -> dict[str, tuple[AgentDefinition, str]]:
        """Bring the app's index up to date (see the module's docstring); the agents."""
        agents = await self.visible(app_id)
        digests = {name: agent_digest(agent, source) for name, (agent, source) in agents.items()}
        checksum = hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()
        if self._indexed.get(app_id) == checksum:
            return agents
        async with self._locks.setdefault(app_id, asyncio.Lock()):
            if self._indexed.get(app_id) != checksum:
                await self._reconcile(app_id, agents, digests)
                self._indexed[app_id] = checksum
        return agents

    async def _reconcile(
        self,
        app_id: str,
        agents: dict[str, tuple[AgentDefinition, str]],
        digests: dict[str, str],
    ) -> None:
        """Put the agents whose stored digest differs; delete the documents of the others."""
        stored = await self._stored_digests(app_id)
        changed = [name for name in agents if stored.get(name) != digests[name]]
        if changed:
            documents = [
                {
                    "key": name,
                    "text": agent_text(agents[name][0]),
                    "metadata": {
                        "name": name,
                        "tags": agents[name][0].capabilities.tags,
                        "source": agents[name][1],
                        "digest": digests[name],
                    },
                }
                for name in changed
            ]
            for start in range(0, len(documents), PAGE):  # within the store's batch limit
                batch = documents[start : start + PAGE]
                await self.knowledge.put_documents(app_id, NAMESPACE, batch, system=True)
        for name in sorted(set(stored) - set(agents)):
            await self.knowledge.delete_document(app_id, NAMESPACE, name, system=True)

    async def _stored_digests(self, app_id: str) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        after: str | None = None
        while True:
            page = await self.knowledge.list_documents(
                app_id, NAMESPACE, limit=PAGE, after=after, system=True
            )
            for document in page:
                metadata = document.get("metadata") or {}
                found[str(document["key"])] = metadata.get("digest")
            if len(page) < PAGE:
                return found
            after = str(page[-1]["key"])

    async def search(self, app_id: str, query: str, k: int = 5) -> dict[str, Any]:
        """The agents that best fit `query`, best first:
        `{"query", "mode", "note", "results": [AgentMatch.to_json()]}`."""
        query = check_query(query)
        cap = self.settings.agent_search_max_k
        if not 1 <= k <= cap:
            if k > cap:
                raise LimitTooHigh(
                    f"k {k} is over the server cap of {cap} (PODIUM_AGENT_SEARCH_MAX_K); ask "
                    "for fewer agents",
                    details={"setting": "PODIUM_AGENT_SEARCH_MAX_K", "cap": cap},
                )
            raise InvalidInput(f"k is how many agents to return: from 1 to {cap}, not {k}")
        agents = await self.sync(app_id)
        # A long description is several chunks: ask for more hits than agents wanted and
        # keep each agent's best.
        hits = max(k, min(k * 3, self.settings.knowledge_max_k))
        found = await self.knowledge.search(app_id, NAMESPACE, query, k=hits, system=True)
        best: dict[str, AgentMatch] = {}
        for hit in found.get("hits", []):
            name = str(hit.get("key"))
            if name not in agents or name in best:
                continue  # gone since it was indexed, or a later chunk of one already found
            agent, source = agents[name]
            best[name] = AgentMatch(
                agent=name,
                description=agent.capabilities.description or agent.description,
                score=round(float(hit.get("score", 0.0)), 6),
                matched=[str(term) for term in hit.get("matched", [])],
                tags=list(agent.capabilities.tags),
                source=source,
            )
        results = sorted(best.values(), key=lambda m: (-m.score, m.agent))[:k]
        return {
            "query": query,
            "mode": found.get("mode", "text"),
            "note": found.get("note"),
            "results": [match.to_json() for match in results],
        }


def _is_builtin(name: str, agent: AgentDefinition) -> bool:
    shipped = BUILTIN_AGENTS.get(name)
    return shipped is not None and agent.model_copy(update={"enabled": True}) == shipped


def check_query(query: str) -> str:
    text = re.sub(r"\s+", " ", query or "").strip()
    if not text:
        raise InvalidInput(
            "q is empty: say what the agent should do, e.g. q=weather or q=schedule a meeting"
        )
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidInput(f"q is {len(text)} characters; at most {MAX_QUERY_CHARS}")
    return text
