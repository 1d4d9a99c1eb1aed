"""Sample knowledge shipped in the package: Markdown documents an app can load into a
namespace of the same name.

`podium-docs` is a few dozen short documents about Podium itself (what it is, flows,
durability, agents, tools, sessions, artifacts, gates, memory, events, tenants, security,
packs, the CLI, configuration…): the built-in `guide` agent answers from it. A document's key
is its file name without `.md`; its metadata names its title and the sample.

An app gets a sample the first time one of its agents searches the namespace while it holds
no document (`podium.knowledge.retrieval`), or when asked:
`POST /api/v1/apps/{app_id}/knowledge-samples/{name}` (which loads it again, replacing the
documents of the same keys).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from podium.errors import NotFound

# name → what it holds
SAMPLES: dict[str, str] = {
    "podium-docs": "Podium's own documentation, in short: what it is and how each part works",
}


def sample_documents(name: str) -> list[dict[str, Any]]:
    """The documents of the sample `name`, by key; NotFound names the samples there are."""
    if name not in SAMPLES:
        raise NotFound(
            f"no sample knowledge named {name!r}; the samples are {sorted(SAMPLES)}",
            details={"samples": sorted(SAMPLES)},
        )
    folder = resources.files(__name__).joinpath(name)
    documents = []
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".md"):
            continue
        text = entry.read_text(encoding="utf-8")
        first = text.lstrip().splitlines()[0] if text.strip() else ""
        title = first.lstrip("#").strip() if first.startswith("#") else entry.name[:-3]
        documents.append(
            {
                "key": entry.name[: -len(".md")],
                "text": text,
                "metadata": {"title": title, "sample": name},
            }
        )
    return documents


def describe_samples() -> list[dict[str, Any]]:
    """Each sample: its name, what it holds and how many documents."""
    return [
        {"name": name, "description": about, "documents": len(sample_documents(name))}
        for name, about in sorted(SAMPLES.items())
    ]
