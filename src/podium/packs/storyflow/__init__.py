"""The storyflow pack (seed 004): creative node types with a prompt library, characters
for persona injection, the component catalogue as data, and the storyflow example flow.
See docs/packs/storyflow.md."""

from pathlib import Path

from podium.packs.base import Pack
from podium.packs.storyflow.nodes import NODE_TYPES
from podium.packs.storyflow.routes import router

HERE = Path(__file__).parent

pack = Pack(
    name="storyflow",
    description=(
        "Storyflow: creative text nodes (prompt → story → grammar → compressor), characters "
        "and a component catalogue for a visual editor (seed 004)."
    ),
    flows_dir=HERE / "flows",
    node_types=list(NODE_TYPES),
    router=router,
    migrations=HERE / "migrations",
)
