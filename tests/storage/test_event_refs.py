"""`node.completed` is stored as a reference to its step and read back whole
(podium.storage.event_refs), on every backend: what clients read is what the executor wrote
and published."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from conftest import fast_settings
from podium import FlowBuilder, Podium
from podium.events import names
from podium.events.envelope import Event
from podium.storage.event_refs import reference
from podium.storage.records import StepRecord
from podium.storage.script import Script, all_rows, loads
from support import nodes

APPEND = {"visited": "append"}


def _raw_rows(app_id: str) -> Script:
    rows = yield all_rows(
        "SELECT seq, type, session_id, run_id, data, step FROM events "
        "WHERE app_num = (SELECT num FROM apps WHERE id = ?) ORDER BY seq",
        app_id,
    )
    return [{**dict(row), "data": loads(row["data"])} for row in rows]


async def raw_rows(podium: Podium, app_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await podium.store.run_read(lambda: _raw_rows(app_id))
    return rows


def loop_flow() -> FlowBuilder:
    return (
        FlowBuilder("loop", reducers=APPEND)
        .python("start", nodes.visit)
        .python("body", nodes.increment)
        .python("check", nodes.visit)
        .python("done", nodes.visit)
        .chain("start", "body", "check", "done")
        .edge(
            "check",
            "body",
            when={"field": "state.count", "operator": "<", "value": 3},
            loop=True,
            max_iterations=5,
        )
    )


class Recorder:
    """Every event the store published after its commits, as the executor made them."""

    def __init__(self, podium: Podium) -> None:
        self.podium = podium
        self.events: list[Event] = []

    def __call__(self, events: list[Event]) -> None:
        self.events += events

    def by_seq(self) -> dict[int, dict[str, Any]]:
        return {e.seq: e.to_json() for e in self.events if e.seq is not None}


@pytest.fixture
async def recorded(podium: Podium) -> AsyncIterator[Recorder]:
    recorder = Recorder(podium)
    podium.store.add_listener(recorder)
    yield recorder
    podium.store.remove_listener(recorder)


async def test_node_completed_is_stored_as_a_reference_and_read_back_whole(
    podium: Podium, recorded: Recorder
) -> None:
    run = await podium.run(loop_flow().build())
    assert run.status == "succeeded"
    # A partial re-execution: `start` and `body` take cached outputs (`cached: true`).
    rerun_id = await podium.rerun(
        run.session_id, trigger_node_id="check", cached_outputs={"start": {}, "body": {}}
    )
    assert (await podium.wait(rerun_id)).status == "succeeded"

    published = recorded.by_seq()
    completed = [e for e in recorded.events if e.type == names.NODE_COMPLETED]
    assert any(e.data.get("iteration") for e in completed)
    assert any(e.data.get("cached") for e in completed)

    read = await podium.store.read_events(run.app_id)
    assert [e.seq for e in read] == sorted(published)
    # What every reader gets (the log API, SSE, WebSocket, pack handlers) is what was written.
    assert [e.to_json() for e in read] == [published[e.seq] for e in read if e.seq is not None]

    for row in await raw_rows(podium, run.app_id):
        if row["type"] == names.NODE_COMPLETED:  # the step's number, nothing else
            assert row["step"] == published[row["seq"]]["data"]["step"]
            assert row["data"] == {} and row["session_id"] is None
            assert row["run_id"] is not None
        else:
            assert row["step"] is None
            assert row["data"] == published[row["seq"]]["data"]


async def test_session_and_run_filters_find_the_references(
    podium: Podium, recorded: Recorder
) -> None:
    flow = FlowBuilder("chain", reducers=APPEND).python("a", nodes.visit)
    flow = flow.python("b", nodes.visit).chain("a", "b").build()
    first = await podium.run(flow)
    second = await podium.run(flow)
    published = recorded.by_seq()
    for run in (first, second):
        for events in (
            await podium.store.read_events(run.app_id, session_id=run.session_id),
            await podium.store.read_events(run.app_id, run_id=run.id),
        ):
            kinds = [e.type for e in events]
            assert kinds.count(names.NODE_COMPLETED) == 2
            assert {e.session_id for e in events} == {run.session_id}
            assert [e.to_json() for e in events] == [published[e.seq] for e in events if e.seq]


async def test_an_output_left_out_over_the_cap_is_stored_whole(database_url: str) -> None:
    settings = fast_settings(max_event_bytes=1_000)
    async with Podium.open(database_url, settings=settings, migrate=False) as podium:
        recorder = Recorder(podium)
        podium.store.add_listener(recorder)
        flow = (
            FlowBuilder("big")
            .node("big", "python", {"function": "support.json_nodes:big_output", "chars": 5000})
            .build()
        )
        run = await podium.run(flow)
        assert run.status == "succeeded"
        published = recorder.by_seq()
        read = await podium.store.read_events(run.app_id, run_id=run.id)
        assert [e.to_json() for e in read] == [published[e.seq] for e in read if e.seq]
        rows = [r for r in await raw_rows(podium, run.app_id) if r["type"] == "node.completed"]
        assert len(rows) == 1 and rows[0]["data"]["output_omitted"] is True
        assert rows[0]["session_id"] == run.session_id  # stored as it is, no reference
        assert rows[0]["step"] is None
        step = (await podium.store.get_steps(run.id))[0]
        assert step.output == {"text": "x" * 5000}


async def test_events_stored_whole_before_references_read_as_they_are(podium: Podium) -> None:
    """A log written before references existed (every node.completed whole) reads the same."""
    flow = FlowBuilder("one", reducers=APPEND).python("a", nodes.visit).build()
    run = await podium.run(flow)
    old = Event(
        names.NODE_COMPLETED,
        run.app_id,
        run.session_id,
        run.id,
        {"node_id": "a", "step": 1, "output": {"visited": ["a"]}},
    )
    # Written outside a step commit, as an older Podium wrote every event: whole.
    [written] = await podium.store.append_events(run.app_id, [old])
    [row] = [r for r in await raw_rows(podium, run.app_id) if r["seq"] == written.seq]
    assert row["session_id"] == run.session_id and row["data"]["node_id"] == "a"
    assert row["step"] is None
    for events in (
        await podium.store.read_events(run.app_id, after=written.seq - 1),
        await podium.store.read_events(run.app_id, session_id=run.session_id),
    ):
        assert events[-1].to_json() == written.to_json()


def _step(status: str = "succeeded", iteration: int = 0, output: Any = None) -> StepRecord:
    return StepRecord("stp", "run_1", "n", iteration, 1, status, output, None, 0.0, 0.0, number=3)


def _completed(data: dict[str, Any], run_id: str = "run_1") -> Event:
    return Event(names.NODE_COMPLETED, "app_1", "ses_1", run_id, data)


@pytest.mark.parametrize(
    ("step", "data", "expected"),
    [
        (_step(output={"a": 1}), {"node_id": "n", "step": 3, "output": {"a": 1}}, 3),
        (_step(), {"node_id": "n", "step": 3, "output": {}}, 3),
        (_step(iteration=2), {"node_id": "n", "step": 3, "iteration": 2, "output": {}}, 3),
        (_step("cached"), {"node_id": "n", "step": 3, "cached": True, "output": {}}, 3),
        # Anything the step would not give back exactly is stored whole.
        (_step(output={"a": 1}), {"node_id": "n", "step": 3, "output": {"a": 2}}, None),
        (_step(), {"node_id": "m", "step": 3, "output": {}}, None),
        (_step(iteration=2), {"node_id": "n", "step": 3, "iteration": 1, "output": {}}, None),
        (_step(iteration=2), {"node_id": "n", "step": 3, "output": {}}, None),
        (_step(), {"node_id": "n", "step": 3, "iteration": 0, "output": {}}, None),
        (_step(), {"node_id": "n", "step": 3, "cached": True, "output": {}}, None),
        (_step("cached"), {"node_id": "n", "step": 3, "output": {}}, None),
        (_step(), {"node_id": "n", "step": 3, "output": {}, "extra": 1}, None),
        (_step(), {"node_id": "n", "step": 3}, None),
        (_step(), {"node_id": "n", "step": 4, "output": {}}, None),
        (_step("failed"), {"node_id": "n", "step": 3, "output": {}}, None),
        (
            _step(output={"a": 1}),
            {"node_id": "n", "step": 3, "output_omitted": True, "output_bytes": 7, "read": "x"},
            None,
        ),
    ],
)
def test_only_an_event_its_step_gives_back_whole_is_a_reference(
    step: StepRecord, data: dict[str, Any], expected: int | None
) -> None:
    assert reference(_completed(data), {3: step}) == expected
    assert reference(_completed(data, run_id="run_2"), {3: step}) is None
