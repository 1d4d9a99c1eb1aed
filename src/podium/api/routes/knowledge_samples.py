"""`/apps/{app_id}/knowledge-samples`: the sample knowledge shipped with Podium, and loading
one into the app (docs/agents.md, "Knowledge").

A sample is loaded into the app's namespace of the same name (`podium-docs`); loading it
again puts the shipped documents back (by key; documents the app added to it stay). The
guide agent's first search loads it too, when the app holds none of its documents. Viewers
list the samples, members load one (as they write documents).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from podium.api.deps import AppMember, AppViewer, ServicesDep
from podium.api.knowledge_schemas import DocumentsWritten
from podium.knowledge.retrieval import Retriever
from podium.knowledge.samples import describe_samples

router = APIRouter(prefix="/apps/{app_id}/knowledge-samples", tags=["knowledge"])

SampleName = Annotated[str, Path(max_length=100, description="a sample's name, e.g. podium-docs")]


class SamplePublic(BaseModel):
    name: str
    description: str
    documents: int


@router.get("")
async def list_samples(access: AppViewer) -> list[SamplePublic]:
    """The shipped samples: name (the namespace it loads into), what it holds, how many
    documents."""
    return [SamplePublic.model_validate(sample) for sample in describe_samples()]


@router.post("/{name}")
async def load_sample(
    name: SampleName, access: AppMember, services: ServicesDep
) -> DocumentsWritten:
    """Load the sample into the app's namespace of the same name (404 names the samples)."""
    retriever: Retriever = services.podium.service("retriever")
    written = await retriever.load_sample(access.app_id, name, actor=access.principal.id)
    return DocumentsWritten.model_validate(written)
