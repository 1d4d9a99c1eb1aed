"""The orchestrator pack (seed 003): a request is parsed into tasks, each matched to an agent
of the app's directory by its capabilities, planned in batches and run — the batches in
order, the tasks of a batch in parallel — and the answers aggregated; when the request is
vague, or no agent can do a task, it asks the user. Its routes mirror the seed's:
/apps/{app}/orchestrator/chat, /continue, /status/{thread_id}; over the WebSocket,
`orchestrator.chat` and `orchestrator.continue`. See docs/packs/orchestrator.md."""

from pathlib import Path

from podium.packs.base import Pack
from podium.packs.orchestrator import websocket
from podium.packs.orchestrator.agents import SAMPLE_AGENTS
from podium.packs.orchestrator.routes import router
from podium.packs.orchestrator.tools import SAMPLE_TOOLS

HERE = Path(__file__).parent

pack = Pack(
    name="orchestrator",
    description=(
        "Orchestrator: parse a request into tasks, find agents in the directory, plan "
        "batches, run them and aggregate; asks when unsure (seed 003)."
    ),
    flows_dir=HERE / "flows",
    agents=SAMPLE_AGENTS,
    tools=list(SAMPLE_TOOLS),
    router=router,
    mount_at_app_root=True,
    socket_handlers={
        "orchestrator.chat": websocket.chat,
        "orchestrator.continue": websocket.continue_thread,
    },
)
