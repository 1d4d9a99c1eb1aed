"""The sync client against a live `podium serve` (SQLite, and PostgreSQL when configured):
every route family of the public API, typed answers, paging, errors with their codes, and a
login that refreshes itself (the server's access tokens last 3 seconds here)."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from tests.api.live import PASSWORD, LiveServer, ask_flow, free_port
from tests.client.conftest import ACCESS_TOKEN_SECONDS
from tests.client.test_models import FAMILIES, family

from podium.client import APIError, Client, StreamLost, WaitTimeout, models
from podium.client.endpoints import all_endpoints

FLOW_YAML = """\
name: shout
nodes:
  - id: say
    type: template
    config: {template: "{{ word }}!", output_key: said}
edges: []
"""


def used_families(paths: list[str]) -> set[str]:
    """The route families of the requested paths (`/api/v1/apps/app_x/runs/run_y` → runs)."""
    templates = [e.path for e in all_endpoints().values()]
    found = set()
    for path in paths:
        parts = path.removeprefix("/api/v1").strip("/").split("/")
        for template in templates:
            pattern = template.strip("/").split("/")
            if len(pattern) == len(parts) and all(
                p.startswith("{") or p == q for p, q in zip(pattern, parts, strict=True)
            ):
                found.add(family(template))
    return found


def test_every_route_family(client: Client) -> None:
    requested: list[str] = []
    client._http.event_hooks["request"].append(lambda r: requested.append(r.url.path))

    assert client.me().username == "admin"
    app = client.create_app("client-tour", "every route family")
    assert isinstance(app, models.AppPublic)
    assert client.update_app(app.id, description="changed").description == "changed"
    assert client.get_app(app.id).name == "client-tour"
    assert app.id in [a.id for a in client.iter_apps(page_size=1)]
    assert [m.role for m in client.list_members(app.id)] == ["owner"]

    # flows: a dict and a YAML file
    assert client.register_flow(app.id, ask_flow()).name == "ask"
    assert client.register_flow(app.id, FLOW_YAML).name == "shout"
    assert {"ask", "shout"} <= {f.name for f in client.list_flows(app.id)}
    assert client.get_flow(app.id, "shout").versions[0].version == 1

    # sessions, questions, answers, runs
    session = client.start_session(app.id, "ask")
    assert session.run_id is not None
    waiting = client.wait_for(app.id, session.run_id, timeout=20)
    assert waiting.status == "interrupted"
    question = client.get_session(app.id, session.id).pending_question
    assert question is not None and question.question == "What is your name?"
    client.answer(app.id, session.id, question.interrupt_id, "Ada")
    done = client.wait_for(app.id, session.run_id, until={"succeeded"}, timeout=20)
    assert done.status == "succeeded"
    assert client.get_session(app.id, session.id).state["greeting"] == "Hello, Ada!"
    steps = list(client.iter_steps(app.id, session.run_id, page_size=1))
    # a step a page: the question's step, the answered step, the greeting, in order
    assert [s.node_id for s in steps] == ["ask_name", "ask_name", "greet"]
    assert [s.number for s in steps] == [1, 2, 3]
    assert client.get_step(app.id, session.run_id, steps[-1].number).output == {
        "greeting": "Hello, Ada!"
    }
    assert [s.node_id for s in client.session_history(app.id, session.id)][-1] == "greet"
    assert isinstance(client.session_messages(app.id, session.id), list)
    again = client.start_run(app.id, session.id, {"name": "Bo"}, multitask_strategy="reject")
    run = client.wait_for(app.id, again.run_id, timeout=20)
    assert run.status == "interrupted"
    assert client.pause_run(app.id, again.run_id).status == "paused"
    assert client.resume_run(app.id, again.run_id).status == "interrupted"
    assert client.cancel_run(app.id, again.run_id).status == "cancelled"
    forked = client.fork_run(app.id, session.run_id, steps[1].id, {"name": "Cy"})
    assert client.wait_for(app.id, forked.run_id, timeout=20).status == "succeeded"
    shout = client.start_session(app.id, "shout", {"word": "hey"}, wait=20)  # one request
    assert (shout.status, shout.run_status) == ("completed", "succeeded")
    third = client.start_session(app.id, "ask")
    assert client.cancel_session(app.id, third.id).status == "cancelled"
    assert client.complete_session(app.id, shout.id).status == "completed"
    # paging: one session a page, newest first, each once
    listed = [s.id for s in client.iter_sessions(app.id, page_size=1)]
    assert listed == [third.id, shout.id, session.id]
    assert client.list_sessions(app.id, flow="shout").items[0].id == shout.id

    # the event log as pages
    page = client.events(app.id, session_id=session.id, limit=3)
    assert [e.seq for e in page.items] == sorted(e.seq or 0 for e in page.items)
    rest = client.events(app.id, session_id=session.id, since=page.next_since)
    assert rest.items[-1].type == "run.succeeded"

    # artifacts
    artifact = client.create_artifact(app.id, "Board", {"cards": 1}, session_id=session.id)
    patched = client.patch_artifact(app.id, artifact.id, {"cards": 2}, if_version=1)
    assert (patched.version, patched.state) == (2, {"cards": 2})
    assert client.get_artifact(app.id, artifact.id).state == {"cards": 2}
    assert [v.version for v in client.artifact_history(app.id, artifact.id).items] == [1, 2]
    assert [a.id for a in client.iter_artifacts(app.id, session_id=session.id)] == [artifact.id]
    accepted = client.artifact_action(app.id, artifact.id, "launch_workflow", {"flow": "shout"})
    assert accepted.session_id is not None

    # agents and chat (the offline model echoes)
    assert "chat" in {a.name for a in client.list_agents(app.id)}
    assert client.get_agent(app.id, "chat").name == "chat"
    turn = client.chat(app.id, "Hello, Podium!")
    assert turn.status == "succeeded" and turn.answer
    streamed = list(client.stream_chat(app.id, "Tokens, please", session_id=turn.session_id))
    assert streamed[0].type == "chat.started" and streamed[-1].type == "done"
    tokens = "".join(str(c.data["delta"]) for c in streamed if c.type == "message.delta")
    answer = next(c for c in streamed if c.type == "message.created")
    assert tokens and tokens == answer.data["content"]
    assert len(client.chat_history(app.id, turn.session_id)) >= 4
    assert client.invoke_agent(app.id, "chat", "One task").status == "succeeded"
    assert client.list_tool_calls(app.id).items == []

    # workflows
    workflow = client.execute_workflow(app.id, "sequential", {"message": "I sell bread"})
    assert client.get_workflow(app.id, workflow.run_id).run_id == workflow.run_id
    assert client.workflow_visualization(app.id, workflow.run_id).nodes

    # memory
    client.put_memory(app.id, "app", app.id, "greeting", {"text": "hello there"})
    client.put_memory(app.id, "app", app.id, "other", 2)
    assert client.get_memory(app.id, "app", app.id, "greeting").value == {"text": "hello there"}
    keys = [e.key for e in client.iter_memory(app.id, "app", app.id, page_size=1)]
    assert keys == ["greeting", "other"]
    hits = client.search_memory(app.id, "app", app.id, "hello")
    assert [h.key for h in hits.items] == ["greeting"]
    client.delete_memory(app.id, "app", app.id, "other")

    # knowledge
    docs = [{"key": "guides/intro.md", "text": "Podium runs flows durably."}]
    docs.append({"key": "faq.md", "text": "Questions wait as long as it takes."})
    assert client.put_documents(app.id, "handbook", docs).documents
    assert [n.namespace for n in client.list_namespaces(app.id)] == ["handbook"]
    assert [d.key for d in client.iter_documents(app.id, "handbook", page_size=1)] == [
        "faq.md",
        "guides/intro.md",
    ]
    assert client.get_document(app.id, "handbook", "guides/intro.md").text.startswith("Podium")
    found = client.search_knowledge(app.id, "handbook", "durably")
    assert found.hits[0].key == "guides/intro.md"
    client.delete_document(app.id, "handbook", "faq.md")

    # packs
    assert "leads" in {p.name for p in client.list_packs(app.id)}
    assert client.enable_pack(app.id, "leads").enabled
    client.disable_pack(app.id, "leads")

    # API keys: a key of the app works, and stops working when revoked
    key = client.create_api_key(app.id, "robot", role="viewer")
    assert [k.id for k in client.list_api_keys(app.id)] == [key.id]
    with Client(client.base_url, api_key=key.key) as robot:
        assert robot.get_session(app.id, session.id).status == "completed"
        client.revoke_api_key(app.id, key.id)
        with pytest.raises(APIError) as revoked:
            robot.get_session(app.id, session.id)
        assert revoked.value.status == 401

    client.delete_app(app.id)
    with pytest.raises(APIError) as gone:
        client.get_app(app.id)
    assert gone.value.code == "not_found"
    assert used_families(requested) >= FAMILIES, FAMILIES - used_families(requested)


def test_errors_carry_the_envelopes_code_message_and_details(client: Client) -> None:
    app = client.create_app("errors")
    with pytest.raises(APIError) as missing:
        client.get_session(app.id, "ses_nope")
    assert (missing.value.status, missing.value.code) == (404, "not_found")
    assert "ses_nope" in missing.value.message

    with pytest.raises(APIError) as invalid:
        client.register_flow(app.id, {"name": "bad", "nodes": [{"id": "x", "type": "nope"}]})
    assert (invalid.value.status, invalid.value.code) == (422, "flow_invalid")
    assert invalid.value.details["problems"]

    client.register_flow(app.id, ask_flow())
    session = client.start_session(app.id, "ask")
    assert session.run_id is not None
    client.wait_for(app.id, session.run_id, timeout=20)
    question = client.get_session(app.id, session.id).pending_question
    assert question is not None
    client.answer(app.id, session.id, question.interrupt_id, "Ada")
    with pytest.raises(APIError) as twice:
        client.answer(app.id, session.id, question.interrupt_id, "Eve")
    assert (twice.value.status, twice.value.code) == (409, "conflict")

    key = client.create_api_key(app.id, "reader", role="viewer")
    with Client(client.base_url, api_key=key.key) as reader, pytest.raises(APIError) as denied:
        reader.start_session(app.id, "ask")
    assert (denied.value.status, denied.value.code) == (403, "forbidden")

    with Client(client.base_url) as stranger, pytest.raises(APIError) as wrong:
        stranger.login("admin", "not-the-password")
    assert (wrong.value.status, wrong.value.code) == (401, "unauthorized")
    assert str(wrong.value).startswith("401 unauthorized: ")

    other = client.start_session(app.id, "ask")
    assert other.run_id is not None
    with pytest.raises(WaitTimeout) as late:
        client.wait_for(app.id, other.run_id, until={"succeeded"}, timeout=0.5)
    assert late.value.last.status == "interrupted"


def test_an_error_that_is_no_envelope_keeps_its_status(live: LiveServer) -> None:
    with Client(live.origin) as client, pytest.raises(APIError) as error:
        client._send("GET", "/../../nowhere")
    assert error.value.status == 404


def test_an_expired_login_is_refreshed_without_the_caller_noticing(live: LiveServer) -> None:
    seen: list[models.TokenResponse] = []
    with Client(live.origin, on_tokens=seen.append) as client:
        client.login("admin", PASSWORD)
        app = client.create_app("refresh")
        time.sleep(ACCESS_TOKEN_SECONDS + 0.5)  # the access token has expired
        assert client.get_app(app.id).name == "refresh"  # refreshed before it was sent
        assert len(seen) == 2 and seen[1].refresh_token != seen[0].refresh_token
        stored = (client.access_token, client.refresh_token)

    # A login kept from before (the CLI's config file): the client does not know when its
    # access token expires, so the server's 401 is what makes it refresh, once.
    time.sleep(ACCESS_TOKEN_SECONDS + 0.5)
    access, refresh = stored
    status, _ = live.request("GET", "/auth/me", token=access)
    assert status == 401
    kept: list[models.TokenResponse] = []
    with Client(
        live.origin, access_token=access, refresh_token=refresh, on_tokens=kept.append
    ) as client:
        assert client.me().username == "admin"
        assert len(kept) == 1 and client.refresh_token == kept[0].refresh_token
    # The spent refresh token is refused (a second use would revoke the login).
    status, body = live.request("POST", "/auth/refresh", {"refresh_token": refresh})
    assert status == 401, body


def test_a_bad_server_url_is_refused_before_any_request() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        Client("127.0.0.1:8000")
    with Client("http://127.0.0.1:1/", timeout=1) as client:
        assert client.base_url == "http://127.0.0.1:1/api/v1"
        with pytest.raises(httpx.ConnectError):
            client.me()


def test_a_stream_that_cannot_reconnect_says_so() -> None:
    """A stream whose server is gone for longer than `reconnect_seconds` raises StreamLost
    (here: nothing listens on the port at all)."""
    with Client(f"http://127.0.0.1:{free_port()}", reconnect_seconds=0.5) as client:
        started = time.monotonic()
        with pytest.raises(StreamLost, match=re.escape("could not be reconnected in 0.5 s")):
            next(iter(client.stream_events("app_x")))
        assert time.monotonic() - started < 10
