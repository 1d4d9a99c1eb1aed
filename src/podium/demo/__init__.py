"""`podium demo`: the shipped packs on an embedded server, watched live.

One command on a fresh clone: a `podium serve` on a free loopback port (in this process,
over a throwaway SQLite file unless --db is given, on the offline model), a demo app with
the shipped packs enabled, and two journeys walked over HTTP while the app's events stream
in over SSE:

- AppBuilder → RevenueDashboard: an app is built (its artifact goes design → code → test →
  deploy), then its artifact's "View Revenue" button (`launch_workflow`) opens the
  dashboard;
- a lead is submitted, then analyzed (the rubric's score and tier, the agent's notes).

docs/demo.md shows a run and what each line means.
"""

from podium.demo.journeys import JOURNEYS, Tour, run_demo
from podium.demo.server import DemoFailed

__all__ = ["JOURNEYS", "DemoFailed", "Tour", "run_demo"]
