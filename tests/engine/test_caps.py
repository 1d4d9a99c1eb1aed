"""Server caps on what a flow asks for: refused when registered (from Python, a file or the
API), and never exceeded at run time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import fast_settings

from podium import FlowBuilder, Podium, default_registry
from podium.config import Settings
from podium.engine.caps import Caps, check_flow_caps, run_limits
from podium.engine.flow import Flow
from podium.engine.graph import compile_flow
from podium.engine.loader import parse_flow, read_flow_file
from podium.errors import FlowInvalid, LimitTooHigh


def one_node(**parts: Any) -> Flow:
    data = {"name": "f", "nodes": [{"id": "a", "type": "template", "config": {"template": "x"}}]}
    return parse_flow(data | parts)


def refusal(flow: Flow, caps: Caps | None = None) -> LimitTooHigh:
    with pytest.raises(LimitTooHigh) as raised:
        check_flow_caps(flow, caps or Caps(), default_registry())
    return raised.value


def test_limits_over_their_caps_are_refused_naming_cap_and_setting() -> None:
    error = refusal(one_node(limits={"max_steps": 1e12, "timeout_seconds": 1e9}))
    assert error.message == (
        "limits.max_steps 1000000000000 is over the server cap of 10000 (PODIUM_MAX_STEPS_CAP); "
        "limits.timeout_seconds 1000000000 is over the server cap of 86400 "
        "(PODIUM_RUN_TIMEOUT_CAP_SECONDS); ask for less in flow 'f', or have the operator raise "
        "the setting"
    )
    assert error.details == {
        "setting": "PODIUM_MAX_STEPS_CAP",
        "cap": 10000,
        "problems": [
            "limits.max_steps 1000000000000 is over the server cap of 10000 (PODIUM_MAX_STEPS_CAP)",
            "limits.timeout_seconds 1000000000 is over the server cap of 86400 "
            "(PODIUM_RUN_TIMEOUT_CAP_SECONDS)",
        ],
    }


def test_every_limit_at_its_cap_is_accepted() -> None:
    caps = Caps(max_steps=5, run_timeout_seconds=10, max_iterations=3, max_fan_out=2)
    builder = FlowBuilder("f", max_steps=5, timeout_seconds=10)
    builder.template("a", "x", timeout_seconds=10).template("b", "x").template("c", "x")
    flow = builder.edge("a", "b").edge("a", "c").edge("c", "c", loop=True, max_iterations=3)
    compile_flow(flow.build(), caps=caps)


@pytest.mark.parametrize(
    ("flow", "message"),
    [
        (
            FlowBuilder("f").template("a", "x").edge("a", "a", loop=True, max_iterations=4),
            "edge a → a max_iterations 4 is over the server cap of 3 (PODIUM_MAX_ITERATIONS_CAP)",
        ),
        (
            FlowBuilder("f").template("a", "x", timeout_seconds=11),
            "node 'a' timeout_seconds 11 is over the server cap of 10 "
            "(PODIUM_RUN_TIMEOUT_CAP_SECONDS)",
        ),
        (
            FlowBuilder("f").template("a", "x", retry={"max_attempts": 2, "backoff_seconds": 1e6}),
            "node 'a' retry.backoff_seconds 1000000 is over the server cap of 10 "
            "(PODIUM_RUN_TIMEOUT_CAP_SECONDS)",
        ),
        (
            FlowBuilder("f")
            .template("a", "x")
            .template("b", "x")
            .template("c", "x")
            .template("d", "x")
            .edge("a", "b")
            .edge("a", "c")
            .edge("a", "d"),
            "node 'a' outgoing edges 3 is over the server cap of 2 (PODIUM_MAX_FAN_OUT)",
        ),
        (
            FlowBuilder("f").node("t", "collaboration_turn", {"agents": ["a"], "max_rounds": 9}),
            "node 't' config.max_rounds 9 is over the server cap of 8 (PODIUM_MAX_ROUNDS_CAP)",
        ),
    ],
)
def test_each_kind_of_limit_has_its_cap(flow: FlowBuilder, message: str) -> None:
    caps = Caps(run_timeout_seconds=10, max_iterations=3, max_fan_out=2, max_rounds=8)
    assert refusal(flow.build(), caps).details["problems"] == [message]


def test_a_float_that_is_not_a_whole_number_is_a_flow_problem_not_a_crash() -> None:
    with pytest.raises(FlowInvalid, match=r"limits\.max_steps: Input should be a valid integer"):
        one_node(limits={"max_steps": 1.5})
    with pytest.raises(FlowInvalid, match=r"limits\.max_steps: Unable to parse"):
        one_node(limits={"max_steps": 1e300})


def test_a_flow_file_over_a_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    definition = one_node(limits={"max_steps": 20_000}).definition()
    path.write_text(json.dumps(definition))
    with pytest.raises(LimitTooHigh, match=r"limits.max_steps 20000 .*\(PODIUM_MAX_STEPS_CAP\)"):
        read_flow_file(path, Settings())
    flow, _ = read_flow_file(path, Settings(max_steps_cap=20_000))
    assert flow.limits.max_steps == 20_000


async def test_a_flow_from_python_over_a_cap_is_refused_and_not_stored(podium: Podium) -> None:
    flow = FlowBuilder("huge", max_steps=10**12).template("a", "x").build()
    with pytest.raises(LimitTooHigh, match="PODIUM_MAX_STEPS_CAP"):
        await podium.register_flow(flow)
    assert await podium.store.find_flow(await podium.default_app(), "huge") is None


def test_runs_get_at_most_the_cap_even_when_the_defaults_are_higher() -> None:
    settings = Settings(max_steps=50_000, max_steps_cap=100, run_timeout_seconds=1e6)
    assert run_limits(one_node(), settings) == (100, settings.run_timeout_cap_seconds)
    assert run_limits(one_node(limits={"max_steps": 7}), settings) == (7, 86_400.0)


@pytest.fixture
def settings() -> Settings:
    return fast_settings(max_fan_out=2)


async def test_no_more_nodes_than_the_fan_out_cap_execute_at_once(podium: Podium) -> None:
    # Four entry nodes: all ready at once, none over the cap of outgoing edges.
    builder = FlowBuilder("wide", reducers={"visited": "append"})
    for name in ("b", "c", "d", "e"):
        builder.node(name, "python", {"function": "support.nodes:slow_visit", "seconds": 0.2})
    run = await podium.run(builder.build())
    assert run.status == "succeeded"
    steps = await podium.store.get_steps(run.id)
    assert len(steps) == 4
    for step in steps:
        at_once = [
            s for s in steps if s.started_at < step.ended_at and step.started_at < s.ended_at
        ]
        assert len(at_once) <= 2, [(s.node_id, s.started_at, s.ended_at) for s in at_once]
    assert max(s.ended_at for s in steps) - min(s.started_at for s in steps) >= 0.4
