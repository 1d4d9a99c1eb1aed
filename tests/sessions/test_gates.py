"""Gates and journeys: the workflow graph's validation, and flows refused to a user until that
user has completed what they require (on every backend)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from podium import Podium
from podium.errors import InvalidInput, NotFound, PrerequisiteNotMet, WorkflowGraphInvalid
from podium.sessions.gates import (
    load_workflow_graph,
    parse_workflow_graph,
    please_complete,
    read_workflow_graph,
)
from podium.sessions.service import SessionService

ALICE, BOB = "usr_alice", "usr_bob"
PACK = {
    "name": "appbuilder_pack",
    "gates": [{"flow": "MarketingAutomation", "requires": ["AppBuilder"]}],
}


def done_flow(name: str) -> dict[str, Any]:
    """A flow that succeeds at once (its session is then `completed`)."""
    return {
        "name": name,
        "nodes": [{"id": "t", "type": "template", "config": {"template": "ok", "output_key": "o"}}],
    }


def problems(data: Any, **kwargs: Any) -> list[str]:
    with pytest.raises(WorkflowGraphInvalid) as caught:
        parse_workflow_graph(data, **kwargs)
    assert caught.value.code == "workflow_graph_invalid"
    return caught.value.problems


# --- validation (no storage) ------------------------------------------------------------


def test_the_documented_example_is_valid_and_a_journey_is_gated_by_default() -> None:
    graph = parse_workflow_graph(
        {
            "name": "appbuilder_pack",
            "gates": [
                {
                    "flow": "MarketingAutomation",
                    "requires": ["AppBuilder"],
                    "message": "Please complete AppBuilder first",
                }
            ],
            "journeys": [
                {"name": "launch", "flows": ["AppBuilder", "RevenueDashboard", "Marketing"]}
            ],
        }
    )
    assert graph.journeys[0].gated is True
    assert graph.to_json()["gates"][0]["requires"] == ["AppBuilder"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"name": "p", "gates": [{"flow": "A", "requires": ["B"], "require": ["C"]}]},
            "gates[0].require: unknown key; a gate has flow, requires and message",
        ),
        (
            {"name": "p", "journeys": [{"name": "j", "flows": ["A", "B"], "gate": False}]},
            "journeys[0].gate: unknown key; a journey has name, flows and gated",
        ),
        (
            {"name": "p", "gate": []},
            "gate: unknown key; a workflow graph has name, description, gates and journeys",
        ),
        ({"name": "p", "gates": [{"flow": "A"}]}, "gates[0].requires: missing"),
        (
            {"name": "p", "gates": [{"flow": "A", "requires": []}]},
            "gates[0].requires: at least 1 item, not 0",
        ),
        (
            {"name": "p", "journeys": [{"name": "j", "flows": ["A"]}]},
            "journeys[0].flows: at least 2 items, not 1",
        ),
        (
            {"name": "p", "journeys": [{"name": "j", "flows": ["A", "B"], "gated": "no"}]},
            "journeys[0].gated: Input should be a valid boolean",
        ),
        (
            {"name": "p", "gates": [{"flow": "A", "requires": ["A", "B"]}]},
            "gates[0]: flow 'A' requires itself; remove it from requires",
        ),
        (
            {"name": "p", "gates": [{"flow": "A", "requires": ["B", "B"]}]},
            "gates[0].requires names 'B' twice",
        ),
        (
            {
                "name": "p",
                "gates": [{"flow": "A", "requires": ["B"]}, {"flow": "A", "requires": ["C"]}],
            },
            "gates[1]: a second gate for flow 'A' (the first is gates[0]); list all its "
            "requirements in one gate",
        ),
        (
            {"name": "p", "journeys": [{"name": "launch", "flows": ["A", "B", "A"]}]},
            "journeys[0] 'launch' names flow 'A' twice; a journey passes through each flow once",
        ),
        (
            {
                "name": "p",
                "journeys": [
                    {"name": "j", "flows": ["A", "B"]},
                    {"name": "j", "flows": ["C", "D"]},
                ],
            },
            "journeys[1]: a second journey named 'j'",
        ),
        (
            {"name": "has space"},
            "name: letters, digits, '_', '.' and '-', starting with a letter or digit "
            "(at most 100)",
        ),
    ],
)
def test_a_mistake_is_named_where_it_is(data: dict[str, Any], expected: str) -> None:
    assert problems(data) == [expected]


def test_a_cycle_among_gates_is_named_with_each_requirement() -> None:
    found = problems(
        {
            "name": "p",
            "gates": [
                {"flow": "A", "requires": ["B"]},
                {"flow": "B", "requires": ["C"]},
                {"flow": "C", "requires": ["A"]},
            ],
        }
    )
    assert len(found) == 1
    assert found[0].startswith("the requirements form a cycle, so none of its flows could ever")
    for step in ("'A' requires 'B' (gates[0])", "'B' requires 'C' (gates[1])"):
        assert step in found[0]
    assert "'C' requires 'A' (gates[2])" in found[0]
    assert found[0].endswith("; remove one of them")


def test_a_journey_implies_gates_so_it_can_close_a_cycle_unless_it_is_not_gated() -> None:
    data: dict[str, Any] = {
        "name": "p",
        "gates": [{"flow": "A", "requires": ["B"]}],
        "journeys": [{"name": "tour", "flows": ["A", "B"]}],
    }
    [cycle] = problems(data)
    assert "'A' requires 'B' (gates[0])" in cycle
    assert "'B' requires 'A' (journey 'tour')" in cycle
    data["journeys"][0]["gated"] = False
    assert parse_workflow_graph(data).journeys[0].gated is False


def test_every_problem_is_reported_at_once() -> None:
    found = problems({"gates": [{"flow": "A", "requires": ["B"], "x": 1}], "y": 2})
    assert found == [
        "name: missing",
        "gates[0].x: unknown key; a gate has flow, requires and message",
        "y: unknown key; a workflow graph has name, description, gates and journeys",
    ]


def test_the_name_comes_from_where_it_is_registered_and_must_agree() -> None:
    assert parse_workflow_graph({"gates": []}, name="pack").name == "pack"
    assert problems({"name": "other"}, name="pack") == [
        "name: the graph says 'other' but is registered as 'pack'"
    ]
    with pytest.raises(InvalidInput, match="a workflow graph is a JSON object"):
        parse_workflow_graph([PACK])


def test_the_message_names_every_missing_flow() -> None:
    assert please_complete(["AppBuilder"]) == "Please complete AppBuilder first"
    assert please_complete(["AppBuilder", "Onboarding"]) == (
        "Please complete AppBuilder and Onboarding first"
    )
    assert please_complete(["A", "B", "C"]) == "Please complete A, B and C first"


def test_a_pack_directory_gives_its_name_to_a_graph_without_one(tmp_path: Path) -> None:
    pack = tmp_path / "leads"
    pack.mkdir()
    (pack / "workflow_graph.json").write_text(json.dumps({"gates": PACK["gates"]}))
    assert read_workflow_graph(pack).name == "leads"
    assert read_workflow_graph(pack / "workflow_graph.json").name == "leads"
    (pack / "workflow_graph.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        read_workflow_graph(pack)
    with pytest.raises(InvalidInput, match="does not exist"):
        read_workflow_graph(tmp_path / "missing")


# --- gates on sessions (every backend) --------------------------------------------------


@pytest.fixture
async def sessions(podium: Podium) -> AsyncIterator[SessionService]:
    service = SessionService(podium)
    await service.open()
    yield service


async def app_with_flows(sessions: SessionService, name: str, *flows: str) -> str:
    app_id = await sessions.store.ensure_app(name)
    for flow in flows:
        await sessions.register_flow(app_id, done_flow(flow))
    return app_id


async def complete(sessions: SessionService, app_id: str, flow: str, user_id: str | None) -> None:
    """Start a session of `flow` for the user and wait for its run to succeed."""
    view = await sessions.create_session(app_id, flow, {}, metadata=None, user_id=user_id)
    assert view.run is not None
    run = await sessions.podium.wait(view.run.id, timeout=20)
    assert run.status == "succeeded", run.error
    done = await sessions.get_session(app_id, view.session.id)
    assert done.session.status == "completed"


async def start(sessions: SessionService, app_id: str, flow: str, user_id: str | None) -> str:
    view = await sessions.create_session(app_id, flow, {}, metadata=None, user_id=user_id)
    return view.session.id


async def refused(sessions: SessionService, app_id: str, flow: str, user_id: str | None) -> Any:
    with pytest.raises(PrerequisiteNotMet) as caught:
        await start(sessions, app_id, flow, user_id)
    assert caught.value.code == "prerequisite_not_met"
    return caught.value


async def test_marketing_is_refused_before_appbuilder_is_completed_and_allowed_after(
    sessions: SessionService,
) -> None:
    app_id = await app_with_flows(sessions, "shop", "AppBuilder", "MarketingAutomation")
    await sessions.gates.put_graph(app_id, "appbuilder_pack", PACK)

    error = await refused(sessions, app_id, "MarketingAutomation", ALICE)
    assert error.message == "Please complete AppBuilder first"
    assert error.details == {"missing": ["AppBuilder"]}
    assert await sessions.gates.validate_prerequisites(app_id, ALICE, "MarketingAutomation") == (
        False,
        "Please complete AppBuilder first",
    )
    await complete(sessions, app_id, "AppBuilder", ALICE)  # its run succeeds
    assert await sessions.gates.missing(app_id, ALICE, "MarketingAutomation") == []
    assert await sessions.gates.validate_prerequisites(app_id, ALICE, "MarketingAutomation") == (
        True,
        "",
    )
    assert await start(sessions, app_id, "MarketingAutomation", ALICE)


async def test_a_session_still_running_or_waiting_does_not_open_the_gate(
    sessions: SessionService,
) -> None:
    app_id = await sessions.store.ensure_app("shop")
    ask = {
        "name": "AppBuilder",
        "nodes": [{"id": "ask", "type": "human", "config": {"question": "Name?"}}],
    }
    await sessions.register_flow(app_id, ask)
    await sessions.register_flow(app_id, done_flow("MarketingAutomation"))
    await sessions.gates.put_graph(app_id, "appbuilder_pack", PACK)
    view = await sessions.create_session(app_id, "AppBuilder", {}, metadata=None, user_id=ALICE)
    assert view.run is not None
    run = await sessions.podium.wait(view.run.id, timeout=20)
    assert run.status == "interrupted"  # the session is `waiting`
    await refused(sessions, app_id, "MarketingAutomation", ALICE)

    await sessions.cancel_session(app_id, view.session.id)
    await sessions.complete_session(app_id, view.session.id)  # completed by hand
    assert await start(sessions, app_id, "MarketingAutomation", ALICE)


async def test_another_users_completion_or_a_session_without_a_user_does_not_open_it(
    sessions: SessionService,
) -> None:
    app_id = await app_with_flows(sessions, "shop", "AppBuilder", "MarketingAutomation")
    await sessions.gates.put_graph(app_id, "appbuilder_pack", PACK)
    await complete(sessions, app_id, "AppBuilder", BOB)
    await complete(sessions, app_id, "AppBuilder", None)

    error = await refused(sessions, app_id, "MarketingAutomation", ALICE)
    assert error.details == {"missing": ["AppBuilder"]}
    anonymous = await refused(sessions, app_id, "MarketingAutomation", None)
    assert anonymous.message == (
        "Please complete AppBuilder first (a gated flow needs a user: pass user_id)"
    )
    assert await start(sessions, app_id, "MarketingAutomation", BOB)


async def test_a_completion_in_another_app_does_not_count(sessions: SessionService) -> None:
    shop = await app_with_flows(sessions, "shop", "AppBuilder", "MarketingAutomation")
    other = await app_with_flows(sessions, "other", "AppBuilder", "MarketingAutomation")
    await sessions.gates.put_graph(shop, "appbuilder_pack", PACK)
    await complete(sessions, other, "AppBuilder", ALICE)
    await refused(sessions, shop, "MarketingAutomation", ALICE)
    # and the other app, without a graph, gates nothing
    assert await start(sessions, other, "MarketingAutomation", BOB)


async def test_several_missing_flows_are_named_and_a_gates_own_message_is_kept(
    sessions: SessionService,
) -> None:
    app_id = await app_with_flows(
        sessions, "shop", "AppBuilder", "Onboarding", "MarketingAutomation", "Billing"
    )
    graph = {
        "gates": [
            {"flow": "MarketingAutomation", "requires": ["AppBuilder", "Onboarding"]},
            {"flow": "Billing", "requires": ["AppBuilder"], "message": "Build an app first"},
        ]
    }
    await sessions.gates.put_graph(app_id, "pack", graph)
    error = await refused(sessions, app_id, "MarketingAutomation", ALICE)
    assert error.message == "Please complete AppBuilder and Onboarding first"
    assert error.details == {"missing": ["AppBuilder", "Onboarding"]}
    assert (await refused(sessions, app_id, "Billing", ALICE)).message == "Build an app first"

    await complete(sessions, app_id, "Onboarding", ALICE)
    error = await refused(sessions, app_id, "MarketingAutomation", ALICE)
    assert (error.message, error.details) == (
        "Please complete AppBuilder first",
        {"missing": ["AppBuilder"]},
    )


async def test_a_journey_of_three_flows_opens_one_step_at_a_time(
    sessions: SessionService,
) -> None:
    flows = ("AppBuilder", "RevenueDashboard", "MarketingAutomation")
    app_id = await app_with_flows(sessions, "shop", *flows)
    journey = {"name": "launch", "flows": list(flows)}
    await sessions.gates.put_graph(app_id, "appbuilder_pack", {"journeys": [journey]})

    for flow in flows[1:]:
        await refused(sessions, app_id, flow, ALICE)
    await complete(sessions, app_id, "AppBuilder", ALICE)
    error = await refused(sessions, app_id, "MarketingAutomation", ALICE)
    assert error.message == "Please complete RevenueDashboard first"  # only the step before
    await complete(sessions, app_id, "RevenueDashboard", ALICE)
    mine = await sessions.gates.prerequisites(app_id, ALICE, "MarketingAutomation")
    assert (mine.ok, mine.journeys[0].completed) == (True, ["AppBuilder", "RevenueDashboard"])
    assert await start(sessions, app_id, "MarketingAutomation", ALICE)

    found = await sessions.gates.prerequisites(app_id, BOB, "RevenueDashboard")
    assert (found.ok, found.requires, found.missing) == (False, ["AppBuilder"], ["AppBuilder"])
    [place] = found.journeys
    assert (place.graph, place.name, place.position, place.completed) == (
        "appbuilder_pack",
        "launch",
        1,
        [],
    )


async def test_an_ungated_journey_gates_nothing(sessions: SessionService) -> None:
    app_id = await app_with_flows(sessions, "shop", "A", "B")
    tour = {"name": "tour", "flows": ["A", "B"], "gated": False}
    await sessions.gates.put_graph(app_id, "pack", {"journeys": [tour]})
    assert await start(sessions, app_id, "B", ALICE)
    found = await sessions.gates.prerequisites(app_id, ALICE, "B")
    assert (found.ok, found.requires, found.journeys[0].gated) == (True, [], False)


async def test_graphs_of_several_packs_add_up_and_may_not_form_a_cycle_together(
    sessions: SessionService,
) -> None:
    app_id = await app_with_flows(sessions, "shop", "A", "B", "C")
    await sessions.gates.put_graph(app_id, "one", {"gates": [{"flow": "C", "requires": ["A"]}]})
    await sessions.gates.put_graph(app_id, "two", {"gates": [{"flow": "C", "requires": ["B"]}]})
    assert await sessions.gates.missing(app_id, ALICE, "C") == ["A", "B"]

    with pytest.raises(WorkflowGraphInvalid) as caught:
        await sessions.gates.put_graph(
            app_id, "three", {"gates": [{"flow": "A", "requires": ["C"]}]}
        )
    [problem] = caught.value.problems
    assert problem.startswith("with the app's other graphs, the requirements form a cycle")
    assert "'C' requires 'A' (graph 'one' gates[0])" in problem
    assert [g.name for g in await sessions.gates.list_graphs(app_id)] == ["one", "two"]
    # Replacing a graph is checked against the others, not against its old self.
    await sessions.gates.put_graph(app_id, "one", {"gates": [{"flow": "B", "requires": ["A"]}]})
    assert await sessions.gates.missing(app_id, ALICE, "C") == ["B"]


async def test_a_graph_is_replaced_by_name_and_deleting_it_lifts_its_gates(
    sessions: SessionService,
) -> None:
    app_id = await app_with_flows(sessions, "shop", "AppBuilder", "MarketingAutomation")
    first = await sessions.gates.put_graph(app_id, "appbuilder_pack", PACK)
    assert first.graph["gates"][0]["flow"] == "MarketingAutomation"
    await sessions.gates.put_graph(app_id, "appbuilder_pack", {"gates": []})
    [stored] = await sessions.gates.list_graphs(app_id)
    assert stored.graph["gates"] == []
    assert stored.updated_at >= first.updated_at

    await sessions.gates.put_graph(app_id, "appbuilder_pack", PACK)
    await refused(sessions, app_id, "MarketingAutomation", ALICE)
    await sessions.gates.delete_graph(app_id, "appbuilder_pack")
    assert await start(sessions, app_id, "MarketingAutomation", ALICE)
    with pytest.raises(NotFound, match="no workflow graph named 'appbuilder_pack'"):
        await sessions.gates.get_graph(app_id, "appbuilder_pack")
    with pytest.raises(NotFound):
        await sessions.gates.delete_graph(app_id, "appbuilder_pack")


async def test_a_flow_given_as_a_definition_is_gated_too(sessions: SessionService) -> None:
    app_id = await app_with_flows(sessions, "shop", "AppBuilder")
    await sessions.gates.put_graph(app_id, "appbuilder_pack", PACK)
    with pytest.raises(PrerequisiteNotMet):
        await sessions.create_session(
            app_id, done_flow("MarketingAutomation"), {}, metadata=None, user_id=ALICE
        )


async def test_load_workflow_graph_registers_a_pack_directory_in_an_app(
    sessions: SessionService, tmp_path: Path
) -> None:
    app_id = await app_with_flows(sessions, "shop", "AppBuilder", "MarketingAutomation")
    pack = tmp_path / "appbuilder"
    pack.mkdir()
    (pack / "workflow_graph.json").write_text(json.dumps(PACK))
    record = await load_workflow_graph(sessions.store, app_id, pack)
    assert (record.app_id, record.name) == (app_id, "appbuilder_pack")
    await refused(sessions, app_id, "MarketingAutomation", ALICE)

    (pack / "workflow_graph.json").write_text(json.dumps({**PACK, "gates": [{"flow": "x"}]}))
    with pytest.raises(WorkflowGraphInvalid, match=r"gates\[0\].requires: missing"):
        await load_workflow_graph(sessions.store, app_id, pack)
    assert (await sessions.gates.get_graph(app_id, "appbuilder_pack")).graph == record.graph
