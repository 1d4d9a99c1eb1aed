"""Finding 5: one tenant held every worker slot. Runs that fail and retry with a long back-off
kept their slot while sleeping, and loops kept theirs while looping: with as many such runs as
PODIUM_WORKERS, every other app's runs stayed queued.

Now a run waiting out a back-off is queued with its not-before time (`available_at`) and holds
no slot, one app holds at most PODIUM_APP_MAX_CONCURRENT_RUNS slots (default: half of them),
and claims prefer the app holding the fewest (docs/security.md, workers).
"""

from __future__ import annotations

import time
from itertools import pairwise
from typing import Any

from tests.security.conftest import Tenant

WORKERS = 2  # PODIUM_WORKERS of the live server (tests/api/live.py): each app's cap is 1

FAILING = {
    "name": "always_fails",
    "nodes": [
        {
            "id": "bad",
            "type": "template",
            "config": {"template": "{{ no_such_value }}"},
            "retry": {"max_attempts": 100, "backoff_seconds": 60},
        }
    ],
    "edges": [],
}
# Four steps an iteration, a thousand iterations (the server's caps): each run keeps a slot
# busy for seconds.
BODY = ["a", "b", "c", "d"]
LOOPING = {
    "name": "loops",
    "limits": {"max_steps": 5000},
    "nodes": [{"id": n, "type": "template", "config": {"template": "x"}} for n in BODY],
    "edges": [
        *({"source": s, "target": t} for s, t in pairwise(BODY)),
        {
            "source": BODY[-1],
            "target": BODY[0],
            "condition": {"field": "state.text", "operator": "==", "value": "x"},
            "loop": True,
            "max_iterations": 1000,
        },
    ],
}
HELLO = {
    "name": "hello",
    "nodes": [{"id": "hello", "type": "template", "config": {"template": "hello"}}],
    "edges": [],
}


def start(tenant: Tenant, flow: str) -> str:
    session = tenant.call("POST", "/apps/{app}/sessions", {"flow": flow})
    return str(session["run_id"])


def run_of(tenant: Tenant, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = tenant.call("GET", f"/apps/{{app}}/runs/{run_id}")
    return run


def until(check: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := check()):
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)
    return value


def test_retrying_and_looping_runs_of_one_app_do_not_starve_another(make_tenant: Any) -> None:
    mallory, alice = make_tenant("mallory"), make_tenant("alice")
    for flow in (FAILING, LOOPING):
        mallory.call("POST", "/apps/{app}/flows", flow)
    alice.call("POST", "/apps/{app}/flows", HELLO)

    failing = [start(mallory, "always_fails") for _ in range(2 * WORKERS)]
    looping = [start(mallory, "loops") for _ in range(3 * WORKERS)]
    # Every failing run has made its first attempt and waits out its back-off in the queue,
    # holding no slot (before: each slept in its slot for a minute).
    for run_id in failing:
        waiting = until(lambda r=run_id: (run := run_of(mallory, r))["available_at"] and run, 20)
        assert waiting["status"] == "queued"
        assert waiting["available_at"] > time.time() + 30
        assert waiting["steps_count"] == 0
    until(lambda: any(run_of(mallory, r)["status"] == "running" for r in looping), 20)

    started = time.monotonic()
    hello = start(alice, "hello")
    until(lambda: run_of(alice, hello)["status"] == "succeeded", 10)
    assert time.monotonic() - started < 10

    # mallory's runs are still unfinished, and never held more than her cap of the slots
    statuses = [run_of(mallory, r)["status"] for r in failing + looping]
    assert statuses[: len(failing)] == ["queued"] * len(failing)
    assert "queued" in statuses[len(failing) :], statuses
    assert statuses.count("running") <= WORKERS // 2
    for run_id in failing + looping:
        mallory.call("POST", f"/apps/{{app}}/runs/{run_id}/cancel")
