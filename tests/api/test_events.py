"""The event log over HTTP: JSON pages, and Server-Sent Events that resume from Last-Event-ID."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from tests.api.conftest import ASK_FLOW, CHAIN_FLOW, Actor, api_settings
from tests.api.threaded_server import ServerUser, ThreadedServer, threaded_server

from podium.config import Settings

WAIT = "?timeout=20"
SSE = {"Accept": "text/event-stream"}


@pytest.fixture
def app_base(admin: Actor) -> str:
    base = f"/api/v1/apps/{admin.create_app('events')}"
    for flow in (ASK_FLOW, CHAIN_FLOW):
        assert admin.post(f"{base}/flows", flow).status_code == 201
    return base


def _run_chain(admin: Actor, base: str) -> dict[str, Any]:
    created = admin.post(f"{base}/sessions", {"flow": "chain"}).json()
    assert admin.get(f"{base}/runs/{created['run_id']}/wait{WAIT}").json()["status"] == "succeeded"
    return dict(created)


def _all_events(admin: Actor, base: str, **params: Any) -> list[dict[str, Any]]:
    response = admin.get(f"{base}/events", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_json_pages_walk_the_log_in_order(admin: Actor, app_base: str) -> None:
    created = _run_chain(admin, app_base)
    every = _all_events(admin, app_base)
    types = [e["type"] for e in every]
    assert types[0] == "session.created" and types[-1] == "run.succeeded"
    assert types.count("node.completed") == 3 and "node.started" not in types  # live only
    assert [e["seq"] for e in every] == list(range(1, len(every) + 1))
    assert all(e["session_id"] == created["id"] for e in every)
    assert all(e["id"] and e["ts"] for e in every)

    seen: list[int] = []
    since = 0
    while True:
        page = admin.get(f"{app_base}/events", params={"since": since, "limit": 2}).json()
        assert len(page["items"]) <= 2
        if not page["items"]:
            assert page["next_since"] == since  # an empty page keeps the position
            break
        seen += [e["seq"] for e in page["items"]]
        assert page["next_since"] == page["items"][-1]["seq"]
        since = page["next_since"]
    assert seen == [e["seq"] for e in every]


def test_json_pages_filter_by_session_and_run(admin: Actor, app_base: str) -> None:
    one = _run_chain(admin, app_base)
    two = _run_chain(admin, app_base)
    rerun = admin.post(f"{app_base}/sessions/{two['id']}/runs", {}).json()["run_id"]
    admin.get(f"{app_base}/runs/{rerun}/wait{WAIT}")

    of_one = _all_events(admin, app_base, session_id=one["id"])
    of_two = _all_events(admin, app_base, session_id=two["id"])
    assert of_one and {e["session_id"] for e in of_one} == {one["id"]}
    assert {e["session_id"] for e in of_two} == {two["id"]}
    every = _all_events(admin, app_base)
    assert sorted(e["seq"] for e in of_one + of_two) == [e["seq"] for e in every]

    of_rerun = _all_events(admin, app_base, run_id=rerun)
    assert of_rerun and {e["run_id"] for e in of_rerun} == {rerun}
    assert of_rerun[0]["type"] == "run.queued"
    both = _all_events(admin, app_base, session_id=one["id"], run_id=rerun)
    assert both == []
    later = _all_events(admin, app_base, since=of_two[0]["seq"], session_id=two["id"])
    assert [e["seq"] for e in later] == [e["seq"] for e in of_two[1:]]


def test_a_bad_last_event_id_is_400(admin: Actor, app_base: str) -> None:
    response = admin.client.get(
        f"{app_base}/events", headers={**admin.headers, "Last-Event-ID": "abc"}
    )
    assert response.status_code == 400
    assert "Last-Event-ID" in response.json()["error"]["message"]


# --- Server-Sent Events over a real server ------------------------------------------------


@pytest.fixture
def server(database_url: str) -> Iterator[ThreadedServer]:
    settings: Settings = api_settings(database_url)
    with threaded_server(settings) as running:
        yield running


class Stream:
    """One SSE connection: events as dicts `{id, event, data}` (comments skipped)."""

    def __init__(self, user: ServerUser, path: str, headers: dict[str, str]) -> None:
        self.client = user.server.client(
            headers={**user.headers, **SSE, **headers},
            timeout=httpx2.Timeout(20.0),
        )
        self.context = self.client.stream("GET", path)
        self.response = self.context.__enter__()
        assert self.response.status_code == 200, self.response.read()
        assert self.response.headers["content-type"].startswith("text/event-stream")
        self.lines = self.response.iter_lines()

    def next_event(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for line in self.lines:  # a read that stalls past the client's timeout fails the test
            if not line:
                if "data" in fields:
                    fields["data"] = json.loads(fields["data"])
                    return fields
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        raise AssertionError("the stream ended")

    def until(self, event_type: str) -> list[dict[str, Any]]:
        events = []
        while True:
            event = self.next_event()
            events.append(event)
            if event["event"] == event_type:
                return events

    def close(self) -> None:
        self.context.__exit__(None, None, None)
        self.client.close()


def _persisted(events: list[dict[str, Any]]) -> list[int]:
    """The seqs of persisted events (live-only ones carry no id)."""
    seqs = []
    for event in events:
        if "id" in event:
            assert int(event["id"]) == event["data"]["seq"]
            seqs.append(int(event["id"]))
        else:
            assert event["data"]["seq"] is None
    return seqs


def test_sse_resumes_from_last_event_id_with_every_event_exactly_once(
    server: ThreadedServer,
) -> None:
    """A client reads the stream until the run waits for an answer, disconnects; the run is
    answered and goes on while it is away; the client reconnects with Last-Event-ID and gets
    every event after that seq once, in order, up to the run's end."""
    user = server.login("viewer", admin=True)
    app_id = user.create_app("sse")
    base = f"/api/v1/apps/{app_id}"
    with user.client() as client:
        assert client.post(f"{base}/flows", json=ASK_FLOW).status_code == 201
        first = Stream(user, f"{base}/events", {})
        try:
            created = client.post(f"{base}/sessions", json={"flow": "ask"}).json()
            before = first.until("run.interrupted")
        finally:
            first.close()  # the client goes away in the middle of the run
        last_seq = _persisted(before)[-1]
        session = client.get(f"{base}/sessions/{created['id']}").json()
        question = session["pending_question"]
        answered = client.post(
            f"{base}/sessions/{created['id']}/input",
            json={"interrupt_id": question["interrupt_id"], "answer": "Ada"},
        )
        assert answered.status_code == 202
        second = Stream(user, f"{base}/events", {"Last-Event-ID": str(last_seq)})
        try:
            after = second.until("run.succeeded")
        finally:
            second.close()
        log = client.get(f"{base}/events", params={"limit": 1000}).json()["items"]

    seqs = _persisted(before) + _persisted(after)
    assert seqs == sorted(set(seqs))  # in order, none twice
    assert seqs == [e["seq"] for e in log] == list(range(1, len(log) + 1))  # none missing
    resumed = [e["event"] for e in after if "id" in e]
    assert resumed[0] == "run.queued" and "node.completed" in resumed
    assert [e["data"] for e in before + after if "id" in e] == log


def test_sse_follows_one_session_live(server: ThreadedServer) -> None:
    user = server.login("owner", admin=True)
    app_id = user.create_app("sse-filter")
    base = f"/api/v1/apps/{app_id}"
    with user.client() as client:
        assert client.post(f"{base}/flows", json=CHAIN_FLOW).status_code == 201
        other = client.post(f"{base}/sessions", json={"flow": "chain"}).json()
        client.get(f"{base}/runs/{other['run_id']}/wait{WAIT}")
        mine = client.post(f"{base}/sessions", json={"flow": "chain"}).json()
        stream = Stream(user, f"{base}/events?session_id={mine['id']}&since=0", {})
        try:
            events = stream.until("run.succeeded")
        finally:
            stream.close()
    assert {e["data"]["session_id"] for e in events} == {mine["id"]}
    assert [e["event"] for e in events if "id" in e][:2] == ["session.created", "run.queued"]
    completed = [e["data"]["data"] for e in events if e["event"] == "node.completed"]
    assert len(completed) == 3
