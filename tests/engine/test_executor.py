"""DESIGN §3 through the real engine, on every backend: the rules a user of flows relies on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from podium import FlowBuilder, Podium
from podium.errors import Conflict, InvalidInput
from podium.events import names
from support import nodes

APPEND = {"visited": "append"}


def chain(*node_ids: str, name: str = "chain") -> FlowBuilder:
    builder = FlowBuilder(name, reducers=APPEND)
    for node_id in node_ids:
        builder.python(node_id, nodes.visit)
    return builder.chain(*node_ids)


async def steps_by_node(podium: Podium, run_id: str) -> dict[str, list[Any]]:
    result: dict[str, list[Any]] = {}
    for step in await podium.store.get_steps(run_id):
        result.setdefault(step.node_id, []).append(step)
    return result


async def test_chain_runs_in_order_and_the_session_keeps_the_state(podium: Podium) -> None:
    run = await podium.run(chain("a", "b", "c").build(), {"visited": ["start"]})
    assert run.status == "succeeded"
    session = await podium.store.get_session(run.session_id)
    assert session.status == "completed"
    assert session.state["visited"] == ["start", "a", "b", "c"]
    types = [e.type for e in await podium.store.read_events(run.app_id)]
    assert types == [
        names.SESSION_CREATED,
        names.RUN_QUEUED,
        names.RUN_STARTED,
        *[names.NODE_COMPLETED] * 3,
        names.RUN_SUCCEEDED,
    ]


async def test_ready_nodes_run_concurrently(podium: Podium) -> None:
    flow = (
        FlowBuilder("fan", reducers=APPEND)
        .python("start", nodes.visit)
        .node("left", "python", {"function": "support.nodes:slow_visit", "seconds": 0.3})
        .node("right", "python", {"function": "support.nodes:slow_visit", "seconds": 0.3})
        .python("join", nodes.visit)
        .edge("start", "left")
        .edge("start", "right")
        .edge("left", "join")
        .edge("right", "join")
        .build()
    )
    run = await podium.run(flow)
    assert run.status == "succeeded"
    steps = await steps_by_node(podium, run.id)
    left, right = steps["left"][0], steps["right"][0]
    assert left.started_at < right.ended_at and right.started_at < left.ended_at
    assert steps["join"][0].started_at >= max(left.ended_at, right.ended_at)
    session = await podium.store.get_session(run.session_id)
    assert sorted(session.state["visited"]) == ["join", "left", "right", "start"]
    assert session.state["visited"][-1] == "join"


async def test_skips_propagate_through_a_join(podium: Podium) -> None:
    flow = (
        FlowBuilder("skip", reducers=APPEND)
        .python("start", nodes.visit)
        .python("taken", nodes.visit)
        .python("not_taken", nodes.visit)
        .python("after_not_taken", nodes.visit)
        .python("join", nodes.visit)
        .edge("start", "taken", when={"field": "state.go", "operator": "==", "value": "left"})
        .edge("start", "not_taken", when={"field": "state.go", "operator": "==", "value": "right"})
        .edge("not_taken", "after_not_taken")
        .edge("taken", "join")
        .edge("after_not_taken", "join")
        .build()
    )
    run = await podium.run(flow, {"go": "left"})
    assert run.status == "succeeded"
    session = await podium.store.get_session(run.session_id)
    assert session.state["visited"] == ["start", "taken", "join"]
    skipped = [
        e.data["node_id"]
        for e in await podium.store.read_events(run.app_id)
        if e.type == names.NODE_SKIPPED
    ]
    assert skipped == ["not_taken", "after_not_taken"]


async def test_join_all_is_skipped_when_a_branch_was_not_taken(podium: Podium) -> None:
    flow = (
        FlowBuilder("join_all", reducers=APPEND)
        .python("start", nodes.visit)
        .python("a", nodes.visit)
        .python("b", nodes.visit)
        .python("join", nodes.visit, join="all")
        .edge("start", "a")
        .edge("start", "b", when={"field": "state.never", "operator": "exists"})
        .edge("a", "join")
        .edge("b", "join")
        .build()
    )
    run = await podium.run(flow)
    assert run.status == "succeeded"
    assert (await podium.store.get_session(run.session_id)).state["visited"] == ["start", "a"]


async def test_a_failing_branch_does_not_stop_its_sibling_and_the_run_fails(
    podium: Podium,
) -> None:
    flow = (
        FlowBuilder("branches", reducers=APPEND)
        .python("start", nodes.visit)
        .python("bad", nodes.boom)
        .python("after_bad", nodes.visit)
        .node("good", "python", {"function": "support.nodes:slow_visit", "seconds": 0.2})
        .python("after_good", nodes.visit)
        .edge("start", "bad")
        .edge("start", "good")
        .edge("bad", "after_bad")
        .edge("good", "after_good")
        .build()
    )
    run = await podium.run(flow)
    assert run.status == "failed"
    assert run.error == "node 'bad' failed: RuntimeError: bad exploded"
    session = await podium.store.get_session(run.session_id)
    assert session.status == "failed"
    assert session.state["visited"] == ["start", "good", "after_good"]
    steps = await steps_by_node(podium, run.id)
    assert steps["bad"][0].status == "failed"
    assert "after_bad" not in steps
    events = await podium.store.read_events(run.app_id)
    assert events[-1].type == names.RUN_FAILED
    assert events[-1].data == {"error": "node 'bad' failed: RuntimeError: bad exploded"}


async def test_on_error_continue_lets_the_run_succeed(podium: Podium) -> None:
    flow = (
        FlowBuilder("tolerant", reducers=APPEND)
        .python("bad", nodes.boom, on_error="continue")
        .python("after", nodes.visit)
        .chain("bad", "after")
        .build()
    )
    run = await podium.run(flow)
    assert run.status == "succeeded"
    steps = await steps_by_node(podium, run.id)
    assert steps["bad"][0].status == "failed"
    assert steps["bad"][0].error == "RuntimeError: bad exploded"
    assert (await podium.store.get_session(run.session_id)).state["visited"] == ["after"]


async def test_retries_then_fails_with_the_last_error(podium: Podium) -> None:
    flow = FlowBuilder("retry").python("bad", nodes.boom, retry={"max_attempts": 3}).build()
    run = await podium.run(flow)
    assert run.status == "failed"
    step = (await steps_by_node(podium, run.id))["bad"][0]
    assert step.attempt == 3


def loop_flow(max_iterations: int, until: int) -> FlowBuilder:
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
            when={"field": "state.count", "operator": "<", "value": until},
            loop=True,
            max_iterations=max_iterations,
        )
    )


async def test_a_loop_repeats_its_body_until_its_condition_fails(podium: Podium) -> None:
    run = await podium.run(loop_flow(max_iterations=5, until=3).build())
    assert run.status == "succeeded"
    state = (await podium.store.get_session(run.session_id)).state
    assert state["count"] == 3
    assert state["visited"] == ["start", "body", "check"] * 1 + ["body", "check"] * 2 + ["done"]
    steps = await steps_by_node(podium, run.id)
    assert [s.iteration for s in steps["body"]] == [0, 1, 2]


async def test_a_loop_exceeding_max_iterations_fails_naming_the_loop(podium: Podium) -> None:
    run = await podium.run(loop_flow(max_iterations=2, until=10).build())
    assert run.status == "failed"
    assert run.error == (
        "loop check → body exceeded max_iterations 2; raise max_iterations or change its condition"
    )
    assert (await podium.store.get_session(run.session_id)).state["count"] == 3


async def test_a_non_json_state_value_is_refused_naming_the_key_and_type(podium: Podium) -> None:
    flow = FlowBuilder("bad_state").python("clock", nodes.not_json).build()
    run = await podium.run(flow)
    assert run.status == "failed"
    assert run.error == (
        "node 'clock' failed: StateNotJSON: node 'clock' output at $.when: a value of type "
        "datetime is not JSON; use a string, number, boolean, null, list or object"
    )
    assert "when" not in (await podium.store.get_session(run.session_id)).state


async def test_router_fires_the_first_matching_rule_else_the_default(podium: Podium) -> None:
    flow = (
        FlowBuilder("route", reducers=APPEND)
        .router(
            "route",
            [
                {"field": "state.score", "operator": ">", "value": 70, "target": "sales"},
                {"field": "state.score", "operator": ">", "value": 30, "target": "nurture"},
            ],
            default="archive",
        )
        .python("sales", nodes.visit)
        .python("nurture", nodes.visit)
        .python("archive", nodes.visit)
        .edge("route", "sales")
        .edge("route", "nurture")
        .edge("route", "archive")
        .build()
    )
    for score, expected in ((90, "sales"), (50, "nurture"), (10, "archive"), ("n/a", "archive")):
        run = await podium.run(flow, {"score": score})
        assert run.status == "succeeded"
        state = (await podium.store.get_session(run.session_id)).state
        assert state["visited"] == [expected], score


async def test_template_and_output_nodes(podium: Podium) -> None:
    flow = (
        FlowBuilder("greet")
        .template("card", "Hello {{ name }} ({{ state.age }})", output_key="greeting")
        .output("out", ["greeting"])
        .chain("card", "out")
        .build()
    )
    run = await podium.run(flow, {"name": "Ada", "age": 36})
    assert run.status == "succeeded"
    assert run.output == {"greeting": "Hello Ada (36)"}


async def test_partial_reexecution_takes_cached_outputs_upstream_of_the_trigger(
    podium: Podium, tmp_path: Any
) -> None:
    counter = tmp_path / "executions"
    calls = tmp_path / "calls"
    flow = (
        FlowBuilder("partial", reducers=APPEND)
        .python("a", nodes.counted)
        .python("b", nodes.counted)
        .python("c", nodes.counted)
        .chain("a", "b", "c")
        .build()
    )
    first = await podium.run(flow, {"executions_file": str(counter), "calls_file": str(calls)})
    assert first.status == "succeeded"
    assert counter.read_text().split() == ["a", "b", "c"]
    run_id = await podium.rerun(
        first.session_id,
        {"visited": ["again"]},
        trigger_node_id="b",
        cached_outputs={"a": {"a_call": 99}},
    )
    second = await podium.wait(run_id)
    assert second.status == "succeeded"
    assert counter.read_text().split() == ["a", "b", "c", "b", "c"]  # a did not run again
    state = (await podium.store.get_session(first.session_id)).state
    assert state["a_call"] == 99
    steps = await steps_by_node(podium, run_id)
    assert steps["a"][0].status == "cached"

    third_id = await podium.rerun(first.session_id, trigger_node_id="c", from_run_id=first.id)
    third = await podium.wait(third_id)
    assert third.status == "succeeded"
    assert counter.read_text().split() == ["a", "b", "c", "b", "c", "c"]


async def test_cached_outputs_without_a_trigger_are_refused(podium: Podium) -> None:
    handle = await podium.start(chain("a").build())
    with pytest.raises(InvalidInput, match="need a trigger_node_id"):
        await podium.rerun(handle.session_id, cached_outputs={"a": {}})


async def test_max_steps_fails_the_run_naming_the_limit(podium: Podium) -> None:
    flow = chain("a", "b", "c", name="limited")
    flow._data["limits"]["max_steps"] = 2
    run = await podium.run(flow.build())
    assert run.status == "failed"
    assert run.error == (
        "run exceeded max_steps 2; raise limits.max_steps or check for a runaway loop"
    )


async def test_the_run_timeout_fails_the_run(podium: Podium) -> None:
    flow = (
        FlowBuilder("slow", timeout_seconds=0.2)
        .node("wait", "python", {"function": "support.nodes:slow_visit", "seconds": 5})
        .build()
    )
    run = await podium.run(flow)
    assert run.status == "failed"
    assert run.error == "run exceeded its timeout of 0.2s; raise limits.timeout_seconds"


async def test_the_run_timeout_passes_in_a_later_step_of_a_chain(podium: Podium) -> None:
    # The run's deadline is one timer for the execution: it cuts the node running when it
    # passes, whichever step that is, and the steps before it stay committed.
    flow = (
        FlowBuilder("slow_chain", timeout_seconds=0.6, reducers=APPEND)
        .python("a", nodes.visit)
        .node("b", "python", {"function": "support.nodes:slow_visit", "seconds": 0.2})
        .node("c", "python", {"function": "support.nodes:slow_visit", "seconds": 5})
        .chain("a", "b", "c")
        .build()
    )
    run = await podium.run(flow)
    assert (run.status, run.error) == (
        "failed",
        "run exceeded its timeout of 0.6s; raise limits.timeout_seconds",
    )
    steps = await steps_by_node(podium, run.id)
    assert [steps[n][0].status for n in ("a", "b")] == ["succeeded", "succeeded"]
    assert "c" not in steps


async def test_a_node_that_swallows_the_timeout_still_fails_the_run(podium: Podium) -> None:
    flow = (
        FlowBuilder("stubborn", timeout_seconds=0.2)
        .node("wait", "python", {"function": "support.nodes:stubborn_sleep", "seconds": 5})
        .build()
    )
    run = await podium.run(flow)
    assert (run.status, run.error) == (
        "failed",
        "run exceeded its timeout of 0.2s; raise limits.timeout_seconds",
    )
    assert await podium.store.get_steps(run.id) == []  # its output was not taken


async def test_a_node_timeout_fails_the_node(podium: Podium) -> None:
    flow = (
        FlowBuilder("node_timeout")
        .node(
            "wait",
            "python",
            {"function": "support.nodes:slow_visit", "seconds": 5},
            timeout_seconds=0.1,
        )
        .build()
    )
    run = await podium.run(flow)
    assert run.status == "failed"
    assert run.error == "node 'wait' failed: node 'wait' took longer than its timeout of 0.1s"


async def test_a_question_waits_and_the_answer_is_accepted_once(podium: Podium) -> None:
    flow = (
        FlowBuilder("ask", reducers=APPEND)
        .python("ask", nodes.ask_name)
        .template("hello", "Hello {{ name }}", output_key="greeting")
        .chain("ask", "hello")
        .build()
    )
    run = await podium.run(flow)
    assert run.status == "interrupted"
    session = await podium.store.get_session(run.session_id)
    assert session.status == "waiting"
    [question] = await podium.pending_questions(run.id)
    assert question.question == "What is your name?"
    await podium.answer(question.id, "Ada")
    with pytest.raises(Conflict, match="already answered; an answer is accepted once"):
        await podium.answer(question.id, "Bob")
    run = await podium.wait(run.id)
    assert run.status == "succeeded"
    state = (await podium.store.get_session(run.session_id)).state
    assert state == {"name": "Ada", "greeting": "Hello Ada"}


async def test_events_of_a_step_that_waited_are_written_once(podium: Podium) -> None:
    flow = FlowBuilder("announce").python("talk", nodes.announce_and_ask_twice).build()
    run = await podium.run(flow)
    for answer in ("a", "b"):
        [question] = await podium.pending_questions(run.id)
        await podium.answer(question.id, answer)
        run = await podium.wait(run.id)
    assert run.status == "succeeded", run.error
    events = await podium.store.read_events(run.app_id, after=0, limit=100)
    said = [e.data["content"] for e in events if e.type == names.MESSAGE_CREATED]
    assert said == ["first question coming", "second question coming", "got a and b"]


async def test_a_human_node_asks_with_choices(podium: Podium) -> None:
    flow = FlowBuilder("choose").human("pick", "Red or blue?", choices=["red", "blue"]).build()
    run = await podium.run(flow)
    [question] = await podium.pending_questions(run.id)
    assert question.choices == ["red", "blue"]
    await podium.answer(question.id, "blue")
    run = await podium.wait(run.id)
    assert (await podium.store.get_session(run.session_id)).state == {"answer": "blue"}


async def test_cancel_a_queued_running_or_interrupted_run(podium: Podium) -> None:
    ask = FlowBuilder("ask").python("ask", nodes.ask_name).build()
    run = await podium.run(ask)
    assert run.status == "interrupted"
    assert await podium.cancel(run.id) == "cancelled"
    [question] = await podium.store.get_interrupts(run.id)
    assert question.status == "cancelled"
    with pytest.raises(Conflict, match="already cancelled"):
        await podium.answer(question.id, "late")

    slow = (
        FlowBuilder("slow")
        .node("wait", "python", {"function": "support.nodes:slow_visit", "seconds": 30})
        .build()
    )
    handle = await podium.start(slow)
    for _ in range(200):
        if (await podium.store.get_run(handle.run_id)).status == "running":
            break
        await asyncio.sleep(0.02)
    await podium.cancel(handle.run_id)
    run = await podium.wait(handle.run_id)
    assert run.status == "cancelled"
    assert await podium.store.get_steps(handle.run_id) == []
    with pytest.raises(Conflict, match="already ended"):
        await podium.cancel(handle.run_id)


async def test_a_queued_run_can_be_cancelled_before_any_worker_sees_it(
    database_url: str, settings: Any
) -> None:
    async with Podium.open(database_url, settings=settings, workers=0, migrate=False) as podium:
        handle = await podium.start(chain("a").build())
        assert await podium.cancel(handle.run_id) == "cancelled"
        assert await podium.store.claim_next_run("w", 5) is None


async def test_multitask_strategies(podium: Podium) -> None:
    ask = FlowBuilder("ask").python("ask", nodes.ask_name).build()
    run = await podium.run(ask)
    with pytest.raises(Conflict, match="already has an active run"):
        await podium.rerun(run.session_id, strategy="reject")
    queued = await podium.rerun(run.session_id, strategy="enqueue")
    await asyncio.sleep(0.2)
    assert (await podium.store.get_run(queued)).status == "queued"  # waits its turn
    newest = await podium.rerun(run.session_id, {"name": "direct"}, strategy="interrupt")
    assert (await podium.store.get_run(run.id)).status == "cancelled"
    assert (await podium.store.get_run(queued)).status == "cancelled"
    assert (await podium.wait(newest)).status == "interrupted"
    with pytest.raises(InvalidInput, match="multitask_strategy 'sometimes' is unknown"):
        await podium.rerun(run.session_id, strategy="sometimes")


async def test_events_emitted_by_node_code_are_written_with_the_step(podium: Podium) -> None:
    flow = FlowBuilder("emit").python("e", "support.emitting:emit_progress").build()
    run = await podium.run(flow)
    assert run.status == "succeeded"
    events = await podium.store.read_events(run.app_id, run_id=run.id)
    kinds = [e.type for e in events]
    assert kinds.index("progress.updated") == kinds.index(names.NODE_COMPLETED) + 1
    assert events[kinds.index("progress.updated")].data == {"percent": 50}
