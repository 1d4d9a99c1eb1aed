"""Finding 6: flow limits above any server cap, and an unpaginated `GET /runs/{id}`.

A tenant asks for 10^12 steps, 10^9 seconds, a loop of 10^12 iterations, a node with 65
outgoing edges, 10^12 discussion rounds or agent turns. Each is refused with 422 naming the
cap and its setting, and nothing is stored. A run with hundreds of steps is read a page at a
time.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.security.conftest import Tenant

ONE_NODE = [{"id": "a", "type": "template", "config": {"template": "hi"}}]


def flow(name: str, **parts: Any) -> dict[str, Any]:
    return {"name": name, "nodes": ONE_NODE, **parts}


def fan_out(name: str, width: int) -> dict[str, Any]:
    nodes = [
        {"id": f"n{i}", "type": "template", "config": {"template": "hi"}} for i in range(width)
    ]
    return {
        "name": name,
        "nodes": [*ONE_NODE, *nodes],
        "edges": [{"source": "a", "target": f"n{i}"} for i in range(width)],
    }


OVER_CAP_FLOWS = {
    "max_steps": (
        flow("steps", limits={"max_steps": 1e12}),
        "limits.max_steps 1000000000000 is over the server cap of 10000 (PODIUM_MAX_STEPS_CAP)",
    ),
    "timeout_seconds": (
        flow("slow", limits={"timeout_seconds": 1e9}),
        "limits.timeout_seconds 1000000000 is over the server cap of 86400 "
        "(PODIUM_RUN_TIMEOUT_CAP_SECONDS)",
    ),
    "node_timeout": (
        flow("slow_node", nodes=[{**ONE_NODE[0], "timeout_seconds": 1e9}]),
        "node 'a' timeout_seconds 1000000000 is over the server cap of 86400 "
        "(PODIUM_RUN_TIMEOUT_CAP_SECONDS)",
    ),
    "max_iterations": (
        flow("loop", edges=[{"source": "a", "target": "a", "loop": True, "max_iterations": 1e12}]),
        "edge a → a max_iterations 1000000000000 is over the server cap of 1000 "
        "(PODIUM_MAX_ITERATIONS_CAP)",
    ),
    "fan_out": (
        fan_out("wide", 65),
        "node 'a' outgoing edges 65 is over the server cap of 64 (PODIUM_MAX_FAN_OUT)",
    ),
    "max_rounds": (
        {
            "name": "talk",
            "nodes": [
                {
                    "id": "talk",
                    "type": "collaboration_turn",
                    "config": {"agents": ["chat"], "max_rounds": 1e12},
                }
            ],
        },
        "node 'talk' config.max_rounds 1000000000000 is over the server cap of 50 "
        "(PODIUM_MAX_ROUNDS_CAP)",
    ),
}


def assert_refused(status: int, body: Any, message: str, setting: str) -> None:
    assert status == 422, body
    assert body["error"]["code"] == "limit_too_high"
    assert message in body["error"]["message"]
    assert body["error"]["details"]["setting"] == setting


def assert_no_sessions(tenant: Tenant) -> None:
    assert tenant.call("GET", "/apps/{app}/sessions")["items"] == []


@pytest.mark.parametrize("case", OVER_CAP_FLOWS)
def test_a_flow_over_a_cap_is_refused_naming_the_cap_and_not_stored(
    make_tenant: Any, case: str
) -> None:
    mallory = make_tenant("mallory")
    definition, message = OVER_CAP_FLOWS[case]
    setting = message.rsplit("(", 1)[1].rstrip(")")

    status, body = mallory.request("POST", "/apps/{app}/flows", definition)
    assert_refused(status, body, message, setting)
    status, _ = mallory.request("GET", f"/apps/{{app}}/flows/{definition['name']}")
    assert status == 404

    # The same flow given inline to a new session: refused, and no session is made.
    status, body = mallory.request("POST", "/apps/{app}/sessions", {"flow": definition})
    assert_refused(status, body, message, setting)
    assert_no_sessions(mallory)


def test_fan_out_at_the_cap_is_accepted(make_tenant: Any) -> None:
    mallory = make_tenant("mallory")
    mallory.call("POST", "/apps/{app}/flows", fan_out("wide", 64))


def test_an_agent_over_the_turns_cap_is_refused_and_not_stored(make_tenant: Any) -> None:
    mallory = make_tenant("mallory")
    agent = {"name": "looper", "instructions": "loop", "max_turns": 1e12}
    status, body = mallory.request("POST", "/apps/{app}/agents", agent)
    assert_refused(
        status,
        body,
        "max_turns 1000000000000 is over the server cap of 100 (PODIUM_MAX_TURNS_CAP)",
        "PODIUM_MAX_TURNS_CAP",
    )
    status, _ = mallory.request("GET", "/apps/{app}/agents/looper")
    assert status == 404


def test_a_workflow_over_the_rounds_cap_is_refused_and_nothing_runs(make_tenant: Any) -> None:
    mallory = make_tenant("mallory")
    request = {
        "workflow_type": "collaborative",
        "workflow_config": {"max_rounds": 1e12},
        "input_data": {"message": "talk forever"},
    }
    status, body = mallory.request("POST", "/apps/{app}/workflows/execute", request)
    assert_refused(
        status,
        body,
        "workflow_config.max_rounds 1000000000000 is over the server cap of 50 "
        "(PODIUM_MAX_ROUNDS_CAP)",
        "PODIUM_MAX_ROUNDS_CAP",
    )
    assert_no_sessions(mallory)


def test_a_run_with_many_steps_is_read_a_page_at_a_time(make_tenant: Any) -> None:
    mallory = make_tenant("mallory")
    looping = {
        "name": "many_steps",
        "state": {"reducers": {"marks": "append"}},
        "nodes": [
            {"id": "mark", "type": "template", "config": {"template": "x", "output_key": "marks"}}
        ],
        "edges": [
            {
                "source": "mark",
                "target": "mark",
                "loop": True,
                "max_iterations": 300,
                "condition": {"field": "length(state.marks)", "operator": "<", "value": 250},
            }
        ],
    }  # fmt: skip
    mallory.call("POST", "/apps/{app}/flows", looping)
    run_id = mallory.call("POST", "/apps/{app}/sessions", {"flow": "many_steps"})["run_id"]
    run = mallory.call("GET", f"/apps/{{app}}/runs/{run_id}/wait?timeout=60")
    assert (run["status"], run["steps_count"]) == ("succeeded", 250), run

    first = mallory.call("GET", f"/apps/{{app}}/runs/{run_id}")
    assert len(first["steps"]) == 100  # the default page
    assert first["steps_next_cursor"] is not None
    numbers = [step["number"] for step in first["steps"]]
    cursor = first["steps_next_cursor"]
    while cursor is not None:
        page = mallory.call("GET", f"/apps/{{app}}/runs/{run_id}?limit=70&cursor={cursor}")
        assert len(page["steps"]) <= 70
        numbers += [step["number"] for step in page["steps"]]
        cursor = page["steps_next_cursor"]
    assert numbers == list(range(1, 251))

    status, body = mallory.request("GET", f"/apps/{{app}}/runs/{run_id}?limit=501")
    assert status == 422, body
    status, body = mallory.request("GET", f"/apps/{{app}}/runs/{run_id}?cursor=bm90IGEgY3Vyc29y")
    assert status == 400
    assert "pass the steps_next_cursor" in body["error"]["message"]


def test_token_budgets_over_the_cap_are_refused_and_another_apps_are_out_of_reach(
    make_tenant: Any,
) -> None:
    mallory, victim = make_tenant("mallory"), make_tenant("victim")
    message = "max_tokens 1000000000000 is over the server cap of 1000000000"
    status, body = mallory.request("PUT", "/apps/{app}/budget", {"max_tokens": 10**12})
    assert_refused(status, body, message, "PODIUM_MAX_BUDGET_TOKENS")
    agent = {"name": "spender", "model": "offline/echo", "limits": {"max_tokens": 1e12}}
    status, body = mallory.request("POST", "/apps/{app}/agents", agent)
    assert_refused(status, body, f"limits.{message}", "PODIUM_MAX_BUDGET_TOKENS")
    assert mallory.call("GET", "/apps/{app}/budget")["max_tokens"] is None
    # The victim's budget and usage: 404, as for an app that does not exist; nothing set.
    victim.call("PUT", "/apps/{app}/budget", {"max_tokens": 100})
    for method, path, payload in [
        ("GET", "/budget", None),
        ("PUT", "/budget", {"max_tokens": 10**9}),
        ("GET", "/usage?group_by=model", None),
    ]:
        status, body = mallory.request(method, f"/apps/{victim.app_id}{path}", payload)
        assert status == 404 and body["error"]["code"] == "not_found", body
    assert victim.call("GET", "/apps/{app}/budget")["max_tokens"] == 100
