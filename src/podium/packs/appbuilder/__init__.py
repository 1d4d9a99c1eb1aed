"""The AppBuilder pack (seed 000, interactive artifacts): five flows whose artifacts a UI
renders and whose buttons drive the journey — AppBuilder, RevenueDashboard,
InvestmentMarketplace, MarketingAutomation (gated on a completed AppBuilder) and
ChallengeTracker. See docs/packs/appbuilder.md."""

from pathlib import Path

from podium.packs.base import Pack

HERE = Path(__file__).parent

pack = Pack(
    name="appbuilder",
    description=(
        "AppBuilder → RevenueDashboard → MarketingAutomation, InvestmentMarketplace and "
        "ChallengeTracker: flows with live artifacts and buttons (seed 000)."
    ),
    flows_dir=HERE / "flows",
    workflow_graph=HERE / "workflow_graph.json",
)
