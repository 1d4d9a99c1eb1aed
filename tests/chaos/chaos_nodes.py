"""Node code of the chaos test's flow (tests/chaos/test_chaos.py), imported by the `podium
serve` and `podium worker` processes it starts (PYTHONPATH=tests/chaos,
PODIUM_API_PYTHON_MODULES=chaos_nodes). Not a test module.

`effect` makes one recorded call (`ctx.step("effect", …)`) whose side effect is a POST to the
test's counter server (CHAOS_COUNTER_URL), which counts it in a SQLite file of its own, outside
Podium. The POST names the call by what the engine records it under, (run, node, iteration,
"effect"): that is its idempotency key. It also says which claim of the run made it (the
run's fence, which each claim increments) and which process, so the test can tell a call
repeated by a later claim (a recorded call run again: a bug) from one repeated after a claim
that died before its result was recorded (expected; the counter applies the key once).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import sys
import urllib.request
from typing import Any

# A worker that loses a run (its lease ran out, its writes are fenced out) says so at INFO,
# which `podium worker` does not show by default: the test reads it in the worker's log.
_worker_log = logging.getLogger("podium.worker")
if not _worker_log.handlers:
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    _worker_log.addHandler(_handler)
    _worker_log.setLevel(logging.INFO)


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as reply:
        answer: dict[str, Any] = json.load(reply)
    return answer


async def effect(ctx: Any) -> dict[str, Any]:
    body = {
        "key": f"{ctx.run_id}/{ctx.node_id}/{ctx.iteration}/effect",
        "run_id": ctx.run_id,
        "node": ctx.node_id,
        # Which claim of the run is executing this step. Node code has no public handle on
        # it; the executor's claimed run carries it.
        "fence": ctx._execution.run.fence,
        "pid": os.getpid(),
    }
    url = os.environ["CHAOS_COUNTER_URL"]
    result = await ctx.step("effect", asyncio.to_thread, _post, url, body)
    # A little time between the recorded call and the step's commit, so that a kill lands
    # there too (the step runs again and the call returns its recorded result).
    await asyncio.sleep(random.uniform(0, 0.03))
    return {ctx.node_id: result}
