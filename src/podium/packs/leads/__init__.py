"""The leads pack (seed 001, PixelCraft): submit leads from a contact form, analyze them
with a deterministic rubric and the `lead_qualification` agent, and follow up through the
CRM, e-mail and calendar integrations. See docs/packs/leads.md."""

from pathlib import Path

from podium.packs.base import Pack
from podium.packs.leads.handlers import notify_by_email, propose_call, sync_to_crm
from podium.packs.leads.routes import router

HERE = Path(__file__).parent

pack = Pack(
    name="leads",
    description="Leads: submit, analyze (rubric + lead_qualification) and follow up (seed 001).",
    flows_dir=HERE / "flows",
    router=router,
    migrations=HERE / "migrations",
    handlers=[sync_to_crm, notify_by_email, propose_call],
)
