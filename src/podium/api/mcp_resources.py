"""The resources an app offers over MCP (docs/mcp-server.md): its artifacts and its knowledge,
read-only, for any role in the app (viewer and up), as `GET /artifacts` and `GET /knowledge`.

    podium://artifacts/{artifact_id}              the artifact (JSON: state, version, type, …)
    podium://knowledge/{namespace}                the namespace's documents (JSON: a page of keys)
    podium://knowledge/{namespace}/{key}          one document's text

The URIs name no app: the endpoint's app is the only one they can reach.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, unquote

from mcp_types import (
    ListResourcesResult,
    ListResourceTemplatesResult,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    TextResourceContents,
)

from podium.api.artifact_schemas import ArtifactPublic
from podium.api.deps import AppAccess, Services
from podium.errors import InvalidInput
from podium.knowledge.service import KnowledgeService

SCHEME = "podium://"
ARTIFACTS = SCHEME + "artifacts/"
KNOWLEDGE = SCHEME + "knowledge/"
PAGE = 100
DOCUMENTS_PAGE = 1000
JSON_TYPE = "application/json"

TEMPLATES = [
    ResourceTemplate(
        name="artifact",
        uri_template=ARTIFACTS + "{artifact_id}",
        description="an artifact of the app: its state, version and type",
        mime_type=JSON_TYPE,
    ),
    ResourceTemplate(
        name="knowledge namespace",
        uri_template=KNOWLEDGE + "{namespace}",
        description="the documents of a knowledge namespace (keys, metadata, sizes)",
        mime_type=JSON_TYPE,
    ),
    ResourceTemplate(
        name="knowledge document",
        uri_template=KNOWLEDGE + "{namespace}/{key}",
        description="one document of a knowledge namespace, its text (the key URL-encoded)",
        mime_type="text/plain",
    ),
]


class AppResources:
    """The resources of one app, for one caller."""

    def __init__(self, services: Services, access: AppAccess) -> None:
        self.services = services
        self.access = access

    @property
    def knowledge(self) -> KnowledgeService:
        service: KnowledgeService = self.services.podium.service("knowledge")
        return service

    async def list(self, cursor: str | None) -> ListResourcesResult:
        """A page of the app's artifacts (oldest first); the first page also holds the
        knowledge namespaces."""
        app_id = self.access.app_id
        page = await self.services.artifacts.list_artifacts(app_id, limit=PAGE, cursor=cursor)
        resources: list[Resource] = []
        if cursor is None:
            for found in await self.knowledge.list_namespaces(app_id):
                namespace = found["namespace"]
                resources.append(
                    Resource(
                        name=f"knowledge {namespace}",
                        uri=KNOWLEDGE + quote(namespace, safe=""),
                        description=f"{found['documents']} documents",
                        mime_type=JSON_TYPE,
                    )
                )
        for record in page.items:
            resources.append(
                Resource(
                    name=f"{record.type} {record.id}",
                    uri=ARTIFACTS + record.id,
                    description=f"artifact of type {record.type!r}, version {record.version}",
                    mime_type=JSON_TYPE,
                )
            )
        return ListResourcesResult(resources=resources, next_cursor=page.next_cursor)

    def templates(self) -> ListResourceTemplatesResult:
        return ListResourceTemplatesResult(resource_templates=TEMPLATES)

    async def read(self, uri: str) -> ReadResourceResult:
        """The resource at `uri`; `NotFound` (as for REST) for one the app does not have."""
        app_id = self.access.app_id
        if uri.startswith(ARTIFACTS):
            artifact_id = uri[len(ARTIFACTS) :]
            if not artifact_id or "/" in artifact_id or len(artifact_id) > 80:
                raise InvalidInput(f"{uri!r} is not an artifact's URI ({ARTIFACTS}<id>)")
            record = await self.services.artifacts.get(app_id, artifact_id)
            return _json(uri, ArtifactPublic.of(record).model_dump(mode="json"))
        if uri.startswith(KNOWLEDGE):
            namespace, _, key = uri[len(KNOWLEDGE) :].partition("/")
            namespace = unquote(namespace)
            if not key:
                items = await self.knowledge.list_documents(app_id, namespace, limit=DOCUMENTS_PAGE)
                return _json(uri, {"namespace": namespace, "documents": items})
            document = await self.knowledge.get_document(app_id, namespace, unquote(key))
            contents = TextResourceContents(uri=uri, mime_type="text/plain", text=document["text"])
            return ReadResourceResult(contents=[contents])
        raise InvalidInput(
            f"{uri[:200]!r} is not a resource of this server; resources/templates/list names "
            "the URIs it reads"
        )


def _json(uri: str, value: Any) -> ReadResourceResult:
    text = json.dumps(value, ensure_ascii=False)
    return ReadResourceResult(
        contents=[TextResourceContents(uri=uri, mime_type=JSON_TYPE, text=text)]
    )
