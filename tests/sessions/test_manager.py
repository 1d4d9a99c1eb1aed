"""The session manager's Python API (for packs) and `ctx.sessions` / `ctx.artifacts` (for node
code), on every backend: partial updates, not-found errors that say which id, recorded calls."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from podium import Podium
from podium.engine.flow import Flow
from podium.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from podium.events import names
from podium.sessions.artifacts import ArtifactService
from podium.sessions.manager import SessionManager
from podium.sessions.service import SessionService

NODES = "support.artifact_nodes"
USER = "usr_ada"


def python_flow(name: str, function: str, **config: Any) -> Flow:
    node = {"id": "work", "type": "python", "config": {"function": f"{NODES}:{function}", **config}}
    return Flow.model_validate({"name": name, "nodes": [node], "edges": []})


def waiting_flow(name: str) -> Flow:
    return Flow.model_validate(
        {"name": name, "nodes": [{"id": "ask", "type": "human", "config": {"question": "?"}}]}
    )


@pytest.fixture
async def manager(podium: Podium) -> SessionManager:
    sessions = SessionService(podium)
    await sessions.open()
    return SessionManager(ArtifactService(sessions))


@pytest.fixture
async def app_id(podium: Podium) -> str:
    app_id = await podium.store.ensure_app("manager")
    for flow in (waiting_flow("AppBuilder"), waiting_flow("RevenueDashboard")):
        await podium.register_flow(flow, app_id=app_id)
    return app_id


async def test_the_guides_workflow_session_and_artifact(
    podium: Podium, manager: SessionManager, app_id: str
) -> None:
    session = await manager.create_workflow_session(app_id, USER, "AppBuilder")
    assert (session["flow"], session["user_id"], session["status"]) == (
        "AppBuilder",
        USER,
        "active",
    )
    artifact = await manager.create_artifact_instance(
        app_id,
        "AppBuilder",
        "AppBuilderArtifact",
        {"app_name": "Shop", "features": [], "build_progress": 0, "architecture": None},
    )
    assert (artifact["flow"], artifact["version"], artifact["session_ids"]) == (
        "AppBuilder",
        1,
        [],
    )
    attached = await manager.attach_artifact_to_session(session["id"], artifact["id"], app_id)
    assert attached["session_ids"] == [session["id"]]
    updated = await manager.update_artifact_state(
        artifact["id"], app_id, {"build_progress": 75, "features": ["auth"]}
    )
    assert updated["version"] == 2
    assert updated["state"] == {
        "app_name": "Shop",
        "features": ["auth"],
        "build_progress": 75,
        "architecture": None,
    }  # only the keys given changed
    read = await manager.get_artifact_instance(artifact["id"], app_id)
    assert read == updated
    resumed = await manager.get_workflow_session(session["id"], app_id)
    assert resumed["artifact_ids"] == [artifact["id"]]
    assert resumed["run_id"] == session["run_id"]

    await podium.wait(session["run_id"], timeout=20)
    with pytest.raises(Conflict, match="active run"):  # it waits for its question
        await manager.complete_workflow_session(session["id"], app_id)
    await podium.cancel(session["run_id"])
    completed = await manager.complete_workflow_session(session["id"], app_id)
    assert completed["status"] == "completed"
    events = await podium.store.read_events(app_id, session_id=session["id"])
    assert events[-1].type == names.SESSION_COMPLETED


async def test_update_artifact_state_is_a_merge_patch(manager: SessionManager, app_id: str) -> None:
    artifact = await manager.create_artifact_instance(
        app_id, None, "Dashboard", {"filters": {"category": "all", "min": 0}, "apps": [1, 2]}
    )
    after = await manager.update_artifact_state(
        artifact["id"], app_id, {"filters": {"min": 10, "category": None}, "selected": "x"}
    )
    assert after["state"] == {"filters": {"min": 10}, "apps": [1, 2], "selected": "x"}
    stale = manager.update_artifact_state(artifact["id"], app_id, {"x": 1}, expected_version=1)
    with pytest.raises(PreconditionFailed, match="version 2"):
        await stale
    with pytest.raises(InvalidInput, match="JSON object"):
        await manager.update_artifact_state(artifact["id"], app_id, ["not", "an", "object"])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="datetime"):
        await manager.update_artifact_state(
            artifact["id"], app_id, {"when": datetime.datetime(2026, 1, 1)}
        )
    final = await manager.get_artifact_instance(artifact["id"], app_id)
    assert final["version"] == 2  # nothing refused applied


async def test_a_missing_session_or_artifact_is_not_found_naming_the_id(
    podium: Podium, manager: SessionManager, app_id: str
) -> None:
    other_app = await podium.store.ensure_app("other")
    await podium.register_flow(waiting_flow("AppBuilder"), app_id=other_app)
    foreign_session = await manager.create_workflow_session(other_app, USER, "AppBuilder")
    foreign = await manager.create_artifact_instance(other_app, None, "T", {})
    mine = await manager.create_artifact_instance(app_id, None, "T", {})
    calls = [
        ("ses_missing", manager.get_workflow_session("ses_missing", app_id)),
        ("ses_missing", manager.complete_workflow_session("ses_missing", app_id)),
        ("art_missing", manager.get_artifact_instance("art_missing", app_id)),
        ("art_missing", manager.update_artifact_state("art_missing", app_id, {"a": 1})),
        (
            "art_missing",
            manager.attach_artifact_to_session(foreign_session["id"], "art_missing", other_app),
        ),
        ("ses_missing", manager.attach_artifact_to_session("ses_missing", mine["id"], app_id)),
        (
            "ses_missing",
            manager.create_artifact_instance(app_id, None, "T", {}, session_id="ses_missing"),
        ),
        ("Nope", manager.create_workflow_session(app_id, USER, "Nope")),
        # Another app's objects are missing too.
        (foreign["id"], manager.get_artifact_instance(foreign["id"], app_id)),
        (foreign_session["id"], manager.get_workflow_session(foreign_session["id"], app_id)),
    ]
    for wanted, call in calls:
        with pytest.raises(NotFound) as missing:
            await call
        assert wanted in missing.value.message


async def test_node_code_tracks_an_artifact_and_completes_its_own_session(
    podium: Podium, manager: SessionManager, app_id: str
) -> None:
    run = await podium.run(
        python_flow("tracker", "track_and_complete"), app_id=app_id, user_id=USER
    )
    assert run.status == "succeeded", run.error
    session = await podium.store.get_session(run.session_id)
    assert session.status == "completed"
    state = session.state
    assert state["tracker"] == {
        "completed_steps": 2,
        "total_steps": 2,
        "title": "x",
        "status": "completed",
    }
    assert state["version"] == 3 and state["status_when_completed"] == "completed"
    assert state["attached"] == [state["artifact_id"]]
    artifact = await manager.get_artifact_instance(state["artifact_id"], app_id)
    assert artifact["created_by"] == run.id and artifact["flow"] == "tracker"
    history = await manager.artifacts.history(app_id, state["artifact_id"])
    assert [(v.version, v.actor) for v in history.items] == [(1, run.id), (2, run.id), (3, run.id)]


async def test_node_code_starts_a_session_for_its_user(
    podium: Podium, manager: SessionManager, app_id: str
) -> None:
    run = await podium.run(
        python_flow("launcher", "launch", flow="RevenueDashboard"), app_id=app_id, user_id=USER
    )
    assert run.status == "succeeded", run.error
    state = (await podium.store.get_session(run.session_id)).state
    launched = await manager.get_workflow_session(state["launched"], app_id)
    assert (launched["flow"], launched["user_id"]) == ("RevenueDashboard", USER)
    assert state["launched_user"] == USER


async def test_node_code_gets_not_found_for_missing_ids(
    podium: Podium, manager: SessionManager, app_id: str
) -> None:
    run = await podium.run(python_flow("missing", "look_for_missing"), app_id=app_id)
    assert run.status == "succeeded", run.error
    errors = (await podium.store.get_session(run.session_id)).state["errors"]
    assert len(errors) == 4
    assert ["art_missing" in e for e in errors] == [True, True, False, True]
    assert "ses_missing" in errors[2]


async def test_node_code_in_a_process_without_the_api_makes_its_own_services(
    podium: Podium, app_id: str
) -> None:
    """A `podium worker` process has no API: ctx.sessions makes the services it needs."""
    assert not podium.services.made("artifacts")
    run = await podium.run(
        python_flow("launcher", "launch", flow="RevenueDashboard"), app_id=app_id, user_id=USER
    )
    assert run.status == "succeeded", run.error
    assert podium.services.made("artifacts")
    launched = (await podium.store.get_session(run.session_id)).state["launched"]
    assert (await podium.store.get_session(launched, app_id=app_id)).user_id == USER


async def test_node_code_uses_every_call_of_ctx_artifacts(
    podium: Podium, manager: SessionManager, app_id: str
) -> None:
    other = await manager.create_workflow_session(app_id, USER, "AppBuilder")
    flow = python_flow("dashboards", "use_every_artifact_call", other_session=other["id"])
    run = await podium.run(flow, app_id=app_id, user_id=USER)
    assert run.status == "succeeded", run.error
    state = (await podium.store.get_session(run.session_id)).state
    made = state["made"]
    assert (made["type"], made["flow"], made["session_id"]) == (
        "Dashboard",
        "dashboards",
        run.session_id,
    )
    assert state["attached"] == [run.session_id, other["id"]]
    assert state["mine"] == [made["id"]] and state["dashboards_elsewhere"] == [made["id"]]
    assert state["history"] == [[1, {"total": 1, "apps": []}], [2, {"total": 2}]]
    assert (state["read"]["version"], state["read"]["state"]) == (2, {"total": 2, "apps": []})
    assert (await manager.get_workflow_session(other["id"], app_id))["artifact_ids"] == [made["id"]]
