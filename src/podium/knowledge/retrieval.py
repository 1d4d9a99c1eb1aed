"""What an agent's `search_knowledge` searches through: the knowledge service, with the
shipped samples loaded into an app the first time one of its agents searches them.

One `Retriever` per runtime (the composition root's `retriever` runtime service, over the
runtime's `knowledge` service). It implements `podium.tools.knowledge.KnowledgeRetriever`.
A namespace the app holds no document in is left out of the search and named in the answer's
`note`, unless it is a shipped sample (`podium.knowledge.samples`), which is loaded first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from podium.knowledge.samples import SAMPLES, sample_documents

if TYPE_CHECKING:
    from podium.knowledge.service import KnowledgeService


class Retriever:
    def __init__(self, knowledge: KnowledgeService) -> None:
        self.knowledge = knowledge

    async def search(
        self, app_id: str, namespaces: list[str], query: str, *, k: int
    ) -> dict[str, Any]:
        """The hits of `query` in those of `namespaces` that hold documents, best first."""
        held = {entry["namespace"] for entry in await self.knowledge.list_namespaces(app_id)}
        for namespace in namespaces:
            if namespace not in held and namespace in SAMPLES:
                await self.load_sample(app_id, namespace)
                held.add(namespace)
        searched = [namespace for namespace in namespaces if namespace in held]
        empty = [namespace for namespace in namespaces if namespace not in held]
        note = None
        if empty:
            note = (
                f"{', '.join(empty)} {'holds' if len(empty) == 1 else 'hold'} no documents in "
                "this app; add some with POST /api/v1/apps/{app_id}/knowledge/{namespace}/"
                "documents"
            )
        if not searched:
            return {"query": query, "mode": "text", "note": note, "hits": []}
        found = await self.knowledge.search(app_id, searched, query, k=k)
        notes = [text for text in (found.get("note"), note) if text]
        return {**found, "note": "; ".join(notes) or None}

    async def load_sample(
        self, app_id: str, name: str, *, actor: str | None = None
    ) -> dict[str, Any]:
        """Put the sample's documents into the app's namespace of the same name."""
        result: dict[str, Any] = await self.knowledge.put_documents(
            app_id, name, sample_documents(name), actor=actor
        )
        return result
