"""guestbook: a minimal Podium pack (docs/packs.md).

- a table (`guestbook_entries`, its own migration) and routes to sign and read it,
- a flow that signs from a session (`guestbook_sign`) and one gated on it (`guestbook_thanks`),
- handlers of `guestbook.signed`: `greet` writes a greeting on the entry; `moderate` refuses
  entries with a link (it raises, so its failures are retried and then shown at
  GET /api/v1/apps/{app_id}/packs/guestbook/handlers).

Install it with PODIUM_PACKS=examples/guestbook, then enable it per app:
PUT /api/v1/apps/{app_id}/packs/guestbook.
"""

from pathlib import Path

from guestbook.handlers import greet, moderate
from guestbook.routes import router
from podium.packs.base import Pack

HERE = Path(__file__).parent

pack = Pack(
    name="guestbook",
    description="Sign a guestbook: a table, routes, a flow, a gate and event handlers.",
    flows_dir=HERE / "flows",
    router=router,
    migrations=HERE / "migrations",
    workflow_graph=HERE / "workflow_graph.json",
    handlers=[greet, moderate],
)
