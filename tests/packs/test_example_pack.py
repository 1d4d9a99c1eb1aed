"""The example pack (examples/guestbook) installed with PODIUM_PACKS into a live
`podium serve`, on every backend: its flow, route, table, handler and gate work; a handler
that fails is retried and then shown; a handler does not run twice for one event across a
SIGKILL of the server."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.api.live import PASSWORD, ROOT, LiveServer, create_admin, login, server_env

from podium.storage.migrate import alembic_config

EXAMPLE = ROOT / "examples" / "guestbook"
BASE = "/apps/{app}/packs/guestbook"


def pack_env() -> dict[str, str]:
    return server_env(
        PODIUM_PACKS=str(EXAMPLE),
        PODIUM_PACK_HANDLER_BACKOFF_SECONDS="0.1",
        PODIUM_PACK_HANDLER_MAX_ATTEMPTS="3",
        PODIUM_LEASE_SECONDS="1",
    )


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    db = tmp_path / "podium.db"
    url = None if database_url.startswith("sqlite") else database_url
    env = pack_env()
    create_admin(url or db, env)  # the CLI migrates: the pack's table is made here
    live = LiveServer(db=db, env=env, database_url=url).start()
    try:
        yield live
    finally:
        if live.process is not None:
            live.stop()
        if url is not None:  # the shared PostgreSQL database goes back to the core's schema
            from alembic import command

            command.downgrade(alembic_config(url, [EXAMPLE / "migrations"]), "guestbook@base")


class Guest:
    """A signed-in user with an app (`{app}` in paths)."""

    def __init__(self, server: LiveServer, token: str, app_id: str) -> None:
        self.server, self.token, self.app_id = server, token, app_id

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return self.server.request(method, path.format(app=self.app_id), body, self.token)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.request(method, path, body)
        assert 200 <= status < 300, f"{method} {path} -> {status} {answer}"
        return answer


def owner(server: LiveServer, name: str = "owner") -> Guest:
    admin = login(server)
    user = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
    server.call("POST", "/users", user, admin)
    token = login(server, name, PASSWORD)
    app = server.call("POST", "/apps", {"name": f"{name}-app"}, token)
    return Guest(server, token, app["id"])


def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def entry(guest: Guest, entry_id: str) -> dict[str, Any]:
    found: dict[str, Any] = guest.call("GET", f"{BASE}/entries/{entry_id}")
    return found


def session_outcome(guest: Guest, flow: str, state: dict[str, Any]) -> tuple[int, Any]:
    status, session = guest.request("POST", "/apps/{app}/sessions", {"flow": flow, "input": state})
    if status != 201:
        return status, session

    def ended() -> Any:
        found = guest.call("GET", f"/apps/{{app}}/sessions/{session['id']}")
        return found if found["status"] in ("completed", "failed") else None

    return status, eventually(ended)


def test_flow_route_table_handler_and_gate_of_the_example_pack(server: LiveServer) -> None:
    guest = owner(server)
    [listed] = guest.call("GET", "/apps/{app}/packs")
    assert (listed["name"], listed["enabled"]) == ("guestbook", False)
    # Not enabled: the pack's routes answer 404 and say how to enable it; nothing is stored.
    status, answer = guest.request("POST", f"{BASE}/entries", {"name": "Ada", "message": "hi"})
    assert status == 404, answer
    assert answer["error"]["message"] == (
        f"pack 'guestbook' is not enabled for this app; PUT /api/v1/apps/{guest.app_id}/packs/"
        "guestbook"
    )

    enabled = guest.call("PUT", "/apps/{app}/packs/guestbook")
    assert enabled["enabled"] is True
    assert enabled["flows"] == ["guestbook_sign", "guestbook_thanks"]
    assert guest.call("GET", f"{BASE}/entries") == []  # the earlier refusal stored nothing

    # Route and table: an entry is stored in the pack's table; the handler greets it once.
    signed = guest.call("POST", f"{BASE}/entries", {"name": "Ada", "message": "hello"})
    greeted = eventually(
        lambda: entry(guest, signed["id"])["greeting"] and entry(guest, signed["id"])
    )
    assert (greeted["greeting"], greeted["handled"]) == ("Welcome, Ada!", 1)
    status, answer = guest.request("POST", f"{BASE}/entries", {"name": "", "message": "x"})
    assert status == 422, answer

    # Gate: thanks requires a completed guestbook_sign of the same user.
    status, answer = guest.request(
        "POST", "/apps/{app}/sessions", {"flow": "guestbook_thanks", "input": {"name": "Ada"}}
    )
    assert status == 409, answer
    assert answer["error"]["message"].startswith("Please sign the guestbook first")
    status, session = session_outcome(guest, "guestbook_sign", {"name": "Bo", "message": "yo"})
    assert session["status"] == "completed", session
    from_flow = session["state"]["entry_id"]
    eventually(lambda: entry(guest, from_flow)["handled"] == 1)  # the flow's event: handled
    status, session = session_outcome(guest, "guestbook_thanks", {"name": "Bo"})
    assert (status, session["status"]) == (201, "completed"), session
    assert session["state"]["thanks"] == "Thank you for signing, Bo!"

    # Disabled again: the routes answer 404 and the gate no longer applies.
    status, _ = guest.request("DELETE", "/apps/{app}/packs/guestbook")
    assert status == 204
    status, _ = guest.request("GET", f"{BASE}/entries")
    assert status == 404


def test_a_failing_handler_is_retried_then_shown(server: LiveServer) -> None:
    guest = owner(server)
    guest.call("PUT", "/apps/{app}/packs/guestbook")
    link = guest.call("POST", f"{BASE}/entries", {"name": "Eve", "message": "see https://x.y"})

    def given_up() -> Any:
        state = guest.call("GET", f"{BASE}/handlers")
        return [f for f in state["failures"] if f["status"] == "failed"]

    [failure] = eventually(given_up)
    assert failure["handler"] == "moderate"
    assert failure["attempts"] == 3  # PODIUM_PACK_HANDLER_MAX_ATTEMPTS
    assert failure["error"] == f"ValueError: entry {link['id']} holds a link; links are not allowed"
    assert failure["event_type"] == "guestbook.signed"
    # The other handler of the event was not held up, and ran once.
    assert entry(guest, link["id"])["handled"] == 1
    # The failing handler went on with the next event.
    later = guest.call("POST", f"{BASE}/entries", {"name": "Al", "message": "plain"})
    state = eventually(
        lambda: (
            (s := guest.call("GET", f"{BASE}/handlers"))
            and all(h["last_seq"] >= failure["event_seq"] + 1 for h in s["handlers"])
            and s
        )
    )
    assert [f["status"] for f in state["failures"]] == ["failed"]
    assert entry(guest, later["id"])["handled"] == 1


def test_a_handler_is_not_run_twice_for_one_event_across_a_sigkill(server: LiveServer) -> None:
    guest = owner(server)
    guest.call("PUT", "/apps/{app}/packs/guestbook")
    first = guest.call("POST", f"{BASE}/entries", {"name": "Ada", "message": "before"})
    eventually(lambda: entry(guest, first["id"])["handled"] == 1)

    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    server.start()
    guest.token = login(server, "owner", PASSWORD)
    second = guest.call("POST", f"{BASE}/entries", {"name": "Bo", "message": "after"})
    eventually(lambda: entry(guest, second["id"])["handled"] == 1)
    time.sleep(1.5)  # past the dead process's lease: nothing more is handled
    assert entry(guest, first["id"])["handled"] == 1
    assert entry(guest, second["id"])["handled"] == 1
