"""The JSON boundary inside a run (DESIGN §8): a value node code produces that is too deep,
holds a NUL or is NaN never reaches the state, a recorded call, an event, memory, an artifact
or an agent message; the session state and an event have size caps. The node fails with a
message naming the place and the setting, and nothing of it is stored."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from tests.conftest import fast_settings

from podium import FlowBuilder, Podium
from podium.config import Settings
from podium.storage.records import RunRecord

STATE_CAP = 4_000
EVENT_CAP = 1_000


@pytest.fixture
def settings() -> Settings:
    return fast_settings(max_state_bytes=STATE_CAP, max_event_bytes=EVENT_CAP)


async def run_nodes(podium: Podium, *nodes: tuple[str, str, dict[str, Any]]) -> RunRecord:
    """A chain of python nodes `(id, function of support.json_nodes, config)`."""
    builder = FlowBuilder("boundary")
    for node_id, function, config in nodes:
        builder.node(node_id, "python", {"function": f"support.json_nodes:{function}", **config})
    for (source, _, _), (target, _, _) in itertools.pairwise(nodes):
        builder.edge(source, target)
    handle = await podium.start(builder.build(), {})
    return await podium.wait(handle.run_id, timeout=20)


async def stored(podium: Podium, run: RunRecord) -> dict[str, Any]:
    """What the run left: the state, its events' types, the app's memory and artifacts."""
    state = (await podium.store.get_session(run.session_id)).state
    events = [e.type for e in await podium.store.read_events(run.app_id, after=0)]
    return {"state": state, "events": events}


PROBLEMS = {
    "deep": "nested deeper than 64 levels",
    "very deep": "nested deeper than 64 levels",
    "nul": "a string holds a NUL character (\\u0000), which is refused",
    "nan": "nan is not a JSON number (NaN and Infinity are refused)",
}


@pytest.mark.parametrize("bad", list(PROBLEMS))
@pytest.mark.parametrize(
    ("function", "prefix", "path"),
    [
        ("bad_output", "StateNotJSON: node 'node' output at $.value", "value"),
        ("bad_step", "StateNotJSON: the result of call 'fetch' in node 'node'", ""),
        ("bad_event", "StateNotJSON: event 'custom.thing' data at $.value", "value"),
        ("bad_memory", "JSONValueInvalid: memory value for key 'k'", ""),
        ("bad_artifact", "JSONValueInvalid: initial_state at $.value", "value"),
        ("bad_message", "JSONValueInvalid: the request message's content at $.value", ""),
    ],
)
async def test_a_bad_value_from_node_code_fails_the_node_and_is_not_stored(
    podium: Podium, function: str, prefix: str, path: str, bad: str
) -> None:
    run = await run_nodes(podium, ("node", function, {"bad": bad}))
    assert run.status == "failed"
    assert run.error is not None
    assert run.error.startswith(f"node 'node' failed: {prefix}"), run.error
    assert run.error.endswith(PROBLEMS[bad]), run.error
    left = await stored(podium, run)
    assert left["state"] == {}
    assert "custom.thing" not in left["events"]
    assert not {"memory.updated", "artifact.created", "agent.message"} & set(left["events"])


async def test_the_state_cap_fails_the_node_that_would_pass_it(podium: Podium) -> None:
    run = await run_nodes(
        podium,
        ("first", "grow_state", {"chars": 1_500}),
        ("second", "grow_state", {"chars": 1_500}),
        ("third", "grow_state", {"chars": 1_500}),
    )
    assert run.status == "failed"
    assert run.error is not None
    assert run.error.startswith(
        "node 'third' failed: LimitExceeded: node 'third' would make the session state "
    )
    assert run.error.endswith(
        f"bytes, over the cap of {STATE_CAP} (PODIUM_MAX_STATE_BYTES); keep large data in "
        "artifacts or memory, or ask the operator to raise the cap"
    )
    state = (await podium.store.get_session(run.session_id)).state
    assert sorted(state) == ["first", "second"]


async def test_an_event_over_the_cap_fails_the_node_and_is_not_written(podium: Podium) -> None:
    fits = await run_nodes(podium, ("node", "big_event", {"chars": EVENT_CAP - 20}))
    assert fits.status == "succeeded", fits.error
    run = await run_nodes(podium, ("node", "big_event", {"chars": EVENT_CAP}))
    assert run.status == "failed"
    assert run.error == (
        f"node 'node' failed: LimitExceeded: event 'custom.thing' data is {EVENT_CAP + 11} "
        f"bytes, over the cap of {EVENT_CAP} (PODIUM_MAX_EVENT_BYTES); send a smaller event, "
        "e.g. an id to read the data by"
    )
    events = await podium.store.read_events(run.app_id, after=0, run_id=run.id)
    assert "custom.thing" not in [e.type for e in events]
