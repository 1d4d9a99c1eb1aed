"""The console's core pages in chromium: the first run (setup) → login → an app → the `ask`
flow's graph → a session that waits → the answer given in the page → the graph and the
transcript show it succeeded; the dev-mode login link; settings (members, API keys); the
sessions filters; the events page; fork, re-run from a node, cancel. Screenshots `setup`,
`apps`, `flow-graph`, `sessions`, `session`, `events` (docs/screenshots), each page checked
with axe-core."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import (
    PASSWORD,
    BrowserLog,
    Server,
    User,
    api_login,
    new_page,
    start_server,
)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ASK = json.loads((ROOT / "examples" / "flows" / "ask.json").read_text())
SETUP_LINK = re.compile(r"first run: open (\S+/console/#/setup\?token=\S+) to create")


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Server]:
    """A server of its own with no administrator yet (the first run)."""
    running = start_server(tmp_path / "first-run")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def fresh_page(browser: Any, fresh_server: Server, browser_log: BrowserLog) -> Iterator[Page]:
    opened = new_page(browser, fresh_server, browser_log)
    try:
        yield opened
    finally:
        opened.context.close()
    assert browser_log.errors == [], browser_log.errors


def graph_node(page: Page, node_id: str) -> Any:
    return page.locator(f'[data-testid="run-graph"] [data-node-id="{node_id}"]')


def test_first_run_to_an_answered_question(
    fresh_server: Server,
    fresh_page: Page,
    browser_log: BrowserLog,
    screenshot: Callable[[Page, str], Path],
    axe_check: Callable[[Page], Any],
) -> None:
    page = fresh_page
    found = SETUP_LINK.search(fresh_server.output())
    assert found, f"podium serve printed no setup link:\n{fresh_server.output()}"
    link = found.group(1)
    token = link.rsplit("token=", 1)[1]

    # Without a login the console sends a first-run server to its setup page.
    page.goto("/console/")
    expect(page).to_have_url(re.compile(r"#/setup$"))
    expect(page.get_by_role("heading", name="Set up Podium")).to_be_visible()

    # A wrong token is refused with a message that says what to do.
    page.get_by_label("Setup token").fill("not-the-token")
    page.get_by_label("Email").fill("root@example.com")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create administrator").click()
    expect(page.get_by_role("alert")).to_contain_text("The setup token is wrong")

    # The printed link fills the token in (and leaves the address without it).
    page.goto(link)
    expect(page.get_by_label("Setup token")).to_have_value(token)
    expect(page).to_have_url(re.compile(r"#/setup$"))
    page.get_by_label("Email").fill("root@example.com")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    screenshot(page, "setup")
    axe_check(page)
    page.get_by_role("button", name="Create administrator").click()
    expect(page).to_have_url(re.compile(r"#/apps$"))
    assert fresh_server.api().get("/setup").json() == {"needs_admin": False}

    # Logged out, the administrator logs in through the form.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"#/login$"))
    page.get_by_label("Email or username").fill("root")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong email, username or password")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"#/apps$"))

    # An app made in the page.
    page.get_by_label("Name").fill("greeter")
    page.get_by_label("Description").fill("Says hello")
    page.get_by_role("button", name="Create app").click()
    expect(page).to_have_url(re.compile(r"#/apps/app_[^/]+/flows$"))
    app_id = page.url.split("#/apps/")[1].split("/")[0]

    # The flow registered over the API; its graph drawn in the page.
    root = api_login(fresh_server, "root")
    api = fresh_server.api(root.token)
    assert api.post(f"/apps/{app_id}/flows", json=ASK).status_code == 201
    page.reload()
    page.get_by_role("link", name="ask", exact=True).click()
    expect(page.get_by_role("heading", name="Flow ask")).to_be_visible()
    flow_graph = page.locator('[data-testid="flow-graph"]')
    expect(flow_graph.locator("[data-node-id]")).to_have_count(2)
    expect(flow_graph.locator(".edge")).to_have_count(1)
    # Laid out left to right: the question before the greeting.
    ask_box = flow_graph.locator('[data-node-id="ask_name"]').bounding_box()
    greet_box = flow_graph.locator('[data-node-id="greet"]').bounding_box()
    assert ask_box and greet_box and ask_box["x"] < greet_box["x"]
    screenshot(page, "flow-graph")
    axe_check(page)

    # Started from the page: the session waits, its graph says so.
    page.get_by_role("button", name="Start a session").click()
    expect(page).to_have_url(re.compile(r"#/apps/[^/]+/sessions/ses_[^/]+$"))
    expect(graph_node(page, "ask_name")).to_have_attribute("data-status", "waiting")
    expect(graph_node(page, "greet")).to_have_attribute("data-status", "pending")
    expect(page.get_by_text("What is your name?").first).to_be_visible()
    expect(page.locator(".live")).to_have_text("live")
    screenshot(page, "session")
    axe_check(page)

    # Answered in the page: the graph and the transcript show the run succeeded.
    page.get_by_label("Your answer").fill("Ada")
    page.get_by_role("button", name="Send answer").click()
    expect(graph_node(page, "ask_name")).to_have_attribute("data-status", "succeeded")
    expect(graph_node(page, "greet")).to_have_attribute("data-status", "succeeded")
    transcript = page.get_by_role("log", name="Transcript")
    expect(transcript).to_contain_text("Ada")
    expect(transcript).to_contain_text("run succeeded")
    expect(transcript).to_contain_text("Hello, Ada!")
    expect(page.locator(".page-header")).to_contain_text("completed")
    session_id = page.url.rsplit("/", 1)[1]
    session = api.get(f"/apps/{app_id}/sessions/{session_id}").json()
    assert session["status"] == "completed"
    assert session["state"]["greeting"] == "Hello, Ada!"

    # The lists: sessions, events, apps.
    page.get_by_role("link", name="Sessions", exact=True).click()
    rows = page.locator("table.data tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ask v1")
    expect(rows.first).to_contain_text("completed")
    screenshot(page, "sessions")
    axe_check(page)
    page.get_by_role("link", name="Events", exact=True).click()
    log = page.get_by_role("log", name="Events")
    expect(log.locator('[data-type="run.succeeded"]')).to_have_count(1)
    expect(log.locator('[data-type="node.interrupted"]')).to_have_count(1)
    screenshot(page, "events")
    axe_check(page)
    page.get_by_role("link", name="Podium").click()
    expect(page.get_by_role("link", name="greeter")).to_be_visible()
    screenshot(page, "apps")
    axe_check(page)
    # The only failed requests: the wrong setup token (403) and the wrong password (401).
    failed = [text for text in browser_log.console_errors() if "status of" in text]
    assert len(failed) == 2, browser_log.console
    assert "403" in failed[0] and "/api/v1/setup" in failed[0], failed
    assert "401" in failed[1] and "/api/v1/auth/login" in failed[1], failed
    assert len(browser_log.console_errors()) == 2, browser_log.console


def test_the_dev_login_link_logs_in_and_leaves_no_token_in_the_address(
    page: Page, server: Server, admin: User
) -> None:
    refresh = api_login(server, admin.username).refresh_token
    page.goto(f"/console/#/login?refresh={refresh}")
    expect(page).to_have_url(re.compile(r"#/apps$"))
    stored = json.loads(page.evaluate("localStorage.getItem('podium.auth')"))
    assert stored["user"]["username"] == admin.username
    assert refresh not in page.url
    # The link is spent: a second use says so and offers the form.
    page.evaluate("localStorage.clear()")
    page.goto(f"/console/#/login?refresh={refresh}")
    expect(page.get_by_role("alert")).to_contain_text("This login link does not work any more")
    expect(page.get_by_label("Password")).to_be_visible()


def test_a_page_that_needs_a_login_sends_to_the_login_form_and_back(
    page: Page, server: Server, admin: User, make_app: Callable[[User, str], dict[str, Any]]
) -> None:
    app = make_app(admin, "bookmarked")
    page.goto(f"/console/#/apps/{app['id']}/flows")
    expect(page).to_have_url(re.compile(r"#/login\?next="))
    page.get_by_label("Email or username").fill(admin.username)
    page.get_by_label("Password").fill(admin.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(f"#/apps/{app['id']}/flows$"))
    expect(page.get_by_role("heading", name="Flows")).to_be_visible()
    page.goto("/console/#/no/such/page")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    page.evaluate("localStorage.clear()")
    page.goto("/console/#/apps")
    expect(page).to_have_url(re.compile(r"#/login$"))


def test_an_expired_access_token_is_refreshed_once_and_the_page_loads(
    page: Page, server: Server, admin: User, login: Callable[[Page, User], None]
) -> None:
    login(page, admin)
    # Let the apps page finish its requests first: a request sent after the forgery below
    # would refresh (spending the refresh token on the server) while the reload throws the
    # answer away, and the reloaded page's refresh would then be a reuse.
    expect(page.get_by_role("heading", name="Apps")).to_be_visible()
    stored = json.loads(page.evaluate("localStorage.getItem('podium.auth')"))
    stored["access_token"] = "expired.or.forged"
    page.evaluate("(v) => localStorage.setItem('podium.auth', v)", json.dumps(stored))
    page.reload()
    expect(page.get_by_role("heading", name="Apps")).to_be_visible()
    page.wait_for_function("() => !localStorage.getItem('podium.auth').includes('expired.or')")
    fresh = json.loads(page.evaluate("localStorage.getItem('podium.auth')"))
    assert fresh["access_token"] != "expired.or.forged"
    assert fresh["refresh_token"] != stored["refresh_token"]  # rotated


def test_settings_members_and_api_keys(
    page: Page,
    server: Server,
    admin: User,
    login: Callable[[Page, User], None],
    make_user: Callable[[str], User],
    make_app: Callable[[User, str], dict[str, Any]],
) -> None:
    app = make_app(admin, "settings-app")
    make_user("bob")
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, admin)
    page.goto(f"/console/#/apps/{app['id']}/settings")
    expect(page.get_by_role("heading", name="settings-app settings")).to_be_visible()

    # An unknown user: a clear error; bob: added at once (the platform admin adds directly).
    page.get_by_label("Email, username or user id").fill("   ")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Name the user")
    page.get_by_label("Email, username or user id").fill("bob")
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Add", exact=True).click()
    members = page.get_by_role("table", name="Members")
    expect(members).to_contain_text("bob")
    expect(page.get_by_label("Role of bob")).to_have_value("viewer")

    # An API key: its secret shown once, it works, revoking it stops it.
    page.get_by_label("Key name").fill("backend")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator('[data-testid="api-key-secret"]')
    expect(secret).to_have_text(re.compile(r"^pk_"))
    key = secret.inner_text()
    keys = page.get_by_role("table", name="API keys")
    expect(keys).to_contain_text("backend")
    assert key not in keys.inner_text()
    with_key = httpx.get(
        f"{server.url}/api/v1/apps/{app['id']}/flows", headers={"X-API-Key": key}, timeout=10
    )
    assert with_key.status_code == 200
    page.get_by_role("button", name="Revoke the key backend").click()
    expect(keys).to_contain_text("revoked")
    refused = httpx.get(
        f"{server.url}/api/v1/apps/{app['id']}/flows", headers={"X-API-Key": key}, timeout=10
    )
    assert refused.status_code == 401
    page.reload()
    expect(page.locator('[data-testid="api-key-secret"]')).to_have_count(0)


def test_sessions_filter_by_status_and_flow(
    page: Page,
    server: Server,
    admin: User,
    login: Callable[[Page, User], None],
    make_app: Callable[[User, str], dict[str, Any]],
) -> None:
    app = make_app(admin, "filters-app")
    api = server.api(admin.token)
    base = f"/apps/{app['id']}"
    assert api.post(f"{base}/flows", json=ASK).status_code == 201
    for _ in range(3):
        assert api.post(f"{base}/sessions", json={"flow": "ask", "input": {}}).status_code == 201
    assert api.post(f"{base}/sessions", json={"flow": "hello", "input": {}}).status_code == 201
    for session in api.get(f"{base}/sessions").json()["items"]:
        api.get(f"{base}/runs/{session['run_id']}/wait", params={"timeout": 10})
    login(page, admin)
    page.goto(f"/console/#/apps/{app['id']}/sessions")
    rows = page.locator("table.data tbody tr")
    expect(rows).to_have_count(4)
    page.get_by_label("Status").select_option("waiting")
    expect(page).to_have_url(re.compile(r"sessions\?status=waiting$"))
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("waiting")
    page.get_by_label("Status").select_option("")
    page.get_by_label("Flow").select_option("hello")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("hello")
    # A session made meanwhile: the page offers to show it (it does not jump by itself).
    assert api.post(f"{base}/sessions", json={"flow": "hello", "input": {}}).status_code == 201
    show = page.get_by_role("button", name="New sessions: show them")
    expect(show).to_be_visible(timeout=10_000)
    expect(rows).to_have_count(1)
    show.click()
    expect(rows).to_have_count(2)
    expect(show).to_be_hidden()


def test_session_controls_fork_and_rerun_from_a_node(
    page: Page,
    server: Server,
    admin: User,
    login: Callable[[Page, User], None],
    make_app: Callable[[User, str], dict[str, Any]],
) -> None:
    app = make_app(admin, "controls-app")
    api = server.api(admin.token)
    base = f"/apps/{app['id']}"
    assert api.post(f"{base}/flows", json=ASK).status_code == 201
    session = api.post(f"{base}/sessions", json={"flow": "ask", "input": {}}).json()
    other = api.post(f"{base}/sessions", json={"flow": "ask", "input": {}}).json()
    login(page, admin)

    # Cancel from the page: the waiting run ends cancelled.
    page.goto(f"/console/#/apps/{app['id']}/sessions/{other['id']}")
    expect(graph_node(page, "ask_name")).to_have_attribute("data-status", "waiting")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator(".page-header")).to_contain_text("cancelled")
    assert api.get(f"{base}/runs/{other['run_id']}").json()["status"] == "cancelled"

    # Pause and resume a waiting run.
    page.goto(f"/console/#/apps/{app['id']}/sessions/{session['id']}")
    expect(graph_node(page, "ask_name")).to_have_attribute("data-status", "waiting")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".page-header")).to_contain_text("paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator(".page-header")).to_contain_text("interrupted")

    # Answer, then re-run from `greet` (`ask_name` takes its output from the first run, a
    # cached step): a second run succeeds.
    page.get_by_label("Your answer").fill("Grace")
    page.get_by_role("button", name="Send answer").click()
    expect(graph_node(page, "greet")).to_have_attribute("data-status", "succeeded")
    graph_node(page, "greet").click()
    page.get_by_role("button", name="Re-run from greet").click()
    steps = page.get_by_role("table", name="Steps of every run")
    expect(steps.locator("tbody tr")).to_have_count(5)
    expect(steps.locator("tbody tr").last).to_contain_text("greet")
    expect(steps.locator("tbody tr").last).to_contain_text("Hello, Grace!")
    runs = {row["run_id"] for row in api.get(f"{base}/sessions/{session['id']}/history").json()}
    assert len(runs) == 2

    # Fork from the answer's step with a patched name: the greeting uses the patch.
    answer_row = steps.locator("tbody tr", has_text="Grace").first
    answer_row.get_by_role("button", name=re.compile(r"^Fork from step")).click()
    page.get_by_label("State patch (JSON object)").fill("not json")
    page.get_by_role("button", name="Fork", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("The patch is not JSON")
    page.get_by_label("State patch (JSON object)").fill('{"name": "Hopper"}')
    page.get_by_role("button", name="Fork", exact=True).click()
    expect(steps).to_contain_text("Hello, Hopper!")
    expect(page.get_by_role("log", name="Transcript")).to_contain_text("Hello, Hopper!")


def test_events_page_filters_by_type_and_follows_live(
    page: Page,
    server: Server,
    admin: User,
    login: Callable[[Page, User], None],
    make_app: Callable[[User, str], dict[str, Any]],
) -> None:
    app = make_app(admin, "events-app")
    api = server.api(admin.token)
    base = f"/apps/{app['id']}"
    login(page, admin)
    page.goto(f"/console/#/apps/{app['id']}/events")
    page.get_by_label("Type").fill("run.")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"events\?type=run\.$"))
    expect(page.locator(".live")).to_have_text("live")
    log = page.get_by_role("log", name="Events")
    session = api.post(f"{base}/sessions", json={"flow": "hello", "input": {}}).json()
    expect(log.locator('[data-type="run.succeeded"]')).to_have_count(1)
    expect(log.locator('[data-type="node.completed"]')).to_have_count(0)
    page.get_by_role("button", name="run.succeeded").click()
    expect(page.locator("pre.json")).to_contain_text(session["run_id"])


def test_the_transcript_streams_an_agents_tokens_live(
    page: Page,
    server: Server,
    admin: User,
    login: Callable[[Page, User], None],
    make_app: Callable[[User, str], dict[str, Any]],
) -> None:
    app = make_app(admin, "chat-app")
    api = server.api(admin.token)
    base = f"/apps/{app['id']}"
    agent = {"name": "echo", "model": "offline/echo", "instructions": "Echo."}
    assert api.post(f"{base}/agents", json=agent).status_code == 201
    first = {"flow": "chat", "input": {"message": "first words", "agent": "echo"}}
    session = api.post(f"{base}/sessions", json=first).json()
    api.get(f"{base}/runs/{session['run_id']}/wait", params={"timeout": 10})
    login(page, admin)
    page.goto(f"/console/#/apps/{app['id']}/sessions/{session['id']}")
    transcript = page.get_by_role("log", name="Transcript")
    expect(transcript.locator(".msg")).to_have_count(3)  # the user's, the agent's, the result
    expect(page.locator(".live")).to_have_text("live")
    # A second turn while the page is open: its tokens arrive live (message.delta, never
    # logged), then the whole message replaces them.
    second = {"input": {"message": "streamed words here", "agent": "echo"}}
    assert api.post(f"{base}/sessions/{session['id']}/runs", json=second).status_code == 202
    expect(transcript).to_contain_text("streamed words here")
    expect(transcript.locator(".msg", has_text="streamed words here")).to_have_count(2)
    deltas = int(transcript.get_attribute("data-deltas") or 0)
    assert deltas >= 3, "the tokens were not streamed into the transcript"
    expect(transcript.locator(".msg.streaming")).to_have_count(0)


def test_a_loop_is_drawn_as_a_back_edge(
    page: Page,
    server: Server,
    admin: User,
    login: Callable[[Page, User], None],
    make_app: Callable[[User, str], dict[str, Any]],
) -> None:
    app = make_app(admin, "loop-app")

    def node(name: str) -> dict[str, Any]:
        return {"id": name, "type": "template", "config": {"template": name, "output_key": name}}

    loop = {
        "name": "drafts",
        "nodes": [node("draft"), node("review"), node("publish")],
        "edges": [
            {"source": "draft", "target": "review"},
            {
                "source": "review",
                "target": "draft",
                "loop": True,
                "max_iterations": 3,
                "condition": {"field": "state.review", "operator": "==", "value": "no"},
            },
            {"source": "review", "target": "publish"},
        ],
    }
    reply = server.api(admin.token).post(f"/apps/{app['id']}/flows", json=loop)
    assert reply.status_code == 201, reply.text
    login(page, admin)
    page.goto(f"/console/#/apps/{app['id']}/flows/drafts")
    graph = page.locator('[data-testid="flow-graph"]')
    expect(graph.locator(".edge")).to_have_count(3)
    expect(graph.locator(".edge.back")).to_have_count(1)
    boxes = [graph.locator(f'[data-node-id="{n}"]').bounding_box() for n in ("draft", "review")]
    boxes.append(graph.locator('[data-node-id="publish"]').bounding_box())
    xs = [box["x"] for box in boxes if box is not None]
    assert len(xs) == 3 and xs == sorted(xs) and len(set(xs)) == 3, xs


def test_two_tabs_with_an_expired_token_refresh_once_and_stay_logged_in(
    page: Page, server: Server, admin: User, login: Callable[[Page, User], None]
) -> None:
    login(page, admin)
    # Let the apps page finish its requests first: a request sent after the forgery below
    # would refresh (spending the refresh token on the server) while the reload throws the
    # answer away, and the reloaded page's refresh would then be a reuse.
    expect(page.get_by_role("heading", name="Apps")).to_be_visible()
    stored = json.loads(page.evaluate("localStorage.getItem('podium.auth')"))
    stored["access_token"] = "expired.or.forged"
    page.evaluate("(v) => localStorage.setItem('podium.auth', v)", json.dumps(stored))
    other = page.context.new_page()  # the same browser: shared storage and lock manager
    other.goto("/console/#/apps")
    page.reload()
    for tab in (page, other):
        expect(tab.get_by_role("heading", name="Apps")).to_be_visible()
        expect(tab).to_have_url(re.compile(r"#/apps$"))
    # Had both tabs rotated the same refresh token, the second would have revoked the login.
    fresh = json.loads(page.evaluate("localStorage.getItem('podium.auth')"))
    me = server.api(fresh["access_token"]).get("/auth/me")
    assert me.status_code == 200, me.text
    again = server.api().post("/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert again.status_code == 200, again.text


def test_a_question_with_choices_or_a_schema_is_answered_with_a_form(
    page: Page,
    server: Server,
    admin: User,
    login: Callable[[Page, User], None],
    make_app: Callable[[User, str], dict[str, Any]],
    axe_check: Callable[[Page], Any],
) -> None:
    app = make_app(admin, "forms-app")
    api = server.api(admin.token)
    base = f"/apps/{app['id']}"
    login(page, admin)

    # Choices (the shipped `confirm` flow): one button each.
    confirm = api.post(f"{base}/sessions", json={"flow": "confirm", "input": {}}).json()
    page.goto(f"/console/#/apps/{app['id']}/sessions/{confirm['id']}")
    choices = page.get_by_role("group", name="Choices")
    expect(choices.get_by_role("button")).to_have_count(2)
    axe_check(page)
    choices.get_by_role("button", name="deny").click()
    expect(graph_node(page, "out")).to_have_attribute("data-status", "succeeded")
    expect(page.get_by_role("log", name="Transcript")).to_contain_text("Decision: deny")

    # A schema: a field per property, the required one checked before sending.
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "title": "Name"},
            "age": {"type": "integer", "title": "Age"},
            "size": {"enum": ["S", "M", "L"], "title": "Size"},
            "member": {"type": "boolean", "title": "Member"},
        },
        "required": ["name"],
    }
    form_flow = {
        "name": "signup-form",
        "nodes": [
            {
                "id": "form",
                "type": "human",
                "config": {"question": "Who are you?", "schema": schema, "output_key": "who"},
            }
        ],
        "edges": [],
    }
    assert api.post(f"{base}/flows", json=form_flow).status_code == 201
    session = api.post(f"{base}/sessions", json={"flow": "signup-form", "input": {}}).json()
    page.goto(f"/console/#/apps/{app['id']}/sessions/{session['id']}")
    expect(page.get_by_text("Who are you?").first).to_be_visible()
    page.get_by_label("Age (optional)").fill("36")
    page.get_by_role("button", name="Send answer").click()
    expect(page.get_by_role("status")).to_contain_text("Fill in: name")
    page.get_by_label("Name", exact=True).fill("Ada")
    page.get_by_label("Size (optional)").select_option("M")
    page.get_by_label("Member (optional)").check()
    axe_check(page)
    page.get_by_role("button", name="Send answer").click()
    expect(graph_node(page, "form")).to_have_attribute("data-status", "succeeded")
    state = api.get(f"{base}/sessions/{session['id']}").json()["state"]
    assert state["who"] == {"name": "Ada", "age": 36, "size": "M", "member": True}


def test_login_and_settings_pages_pass_axe(
    page: Page,
    server: Server,
    admin: User,
    login: Callable[[Page, User], None],
    make_app: Callable[[User, str], dict[str, Any]],
    axe_check: Callable[[Page], Any],
) -> None:
    app = make_app(admin, "axe-app")
    page.goto("/console/#/login")
    expect(page.get_by_role("heading", name="Log in to Podium")).to_be_visible()
    axe_check(page)
    login(page, admin)
    page.goto(f"/console/#/apps/{app['id']}/settings")
    expect(page.get_by_role("table", name="API keys")).to_be_visible()
    axe_check(page)
    page.goto(f"/console/#/apps/{app['id']}/flows")
    expect(page.get_by_role("table", name="Flows")).to_be_visible()
    axe_check(page)


def test_the_live_page_outlives_its_access_token(
    tmp_path: Path, browser: Any, browser_log: BrowserLog
) -> None:
    """Access tokens of 6 s: the socket closed at the token's end (4001) reconnects with a
    refreshed one and resumes, so the page still follows the run; HTTP calls refresh too."""
    short = start_server(tmp_path / "short-tokens", PODIUM_ACCESS_TOKEN_MINUTES="0.1")
    try:
        made = short.cli(
            *("users", "create-admin", "--email", "al@example.com", "--username", "al"),
            *("--password", PASSWORD),
        )
        assert made.returncode == 0, made.stderr
        user = api_login(short, "al")
        api = short.api(user.token)
        app = api.post("/apps", json={"name": "short"}).json()
        base = f"/apps/{app['id']}"
        assert api.post(f"{base}/flows", json=ASK).status_code == 201
        session = api.post(f"{base}/sessions", json={"flow": "ask", "input": {}}).json()
        page = new_page(browser, short, browser_log)
        try:
            page.goto("/console/#/login")
            page.get_by_label("Email or username").fill("al")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page).to_have_url(re.compile(r"#/apps$"))
            page.goto(f"/console/#/apps/{app['id']}/sessions/{session['id']}")
            expect(graph_node(page, "ask_name")).to_have_attribute("data-status", "waiting")
            page.wait_for_timeout(8000)  # the token (and the socket it opened) has ended
            question = api_login(short, "al")  # a fresh token for this client too
            answered = short.api(question.token).post(
                f"{base}/sessions/{session['id']}/input",
                json={
                    "interrupt_id": session_question(short, question, base, session),
                    "answer": "Lin",
                },
            )
            assert answered.status_code == 202, answered.text
            expect(graph_node(page, "greet")).to_have_attribute("data-status", "succeeded")
            expect(page.get_by_role("log", name="Transcript")).to_contain_text("Hello, Lin!")
            expect(page).to_have_url(re.compile(r"/sessions/ses_"))  # not sent to the login
        finally:
            page.context.close()
    finally:
        short.stop()
    assert browser_log.errors == [], browser_log.errors


def session_question(server: Server, user: User, base: str, session: dict[str, Any]) -> str:
    found = server.api(user.token).get(f"{base}/sessions/{session['id']}").json()
    question: str = found["pending_question"]["interrupt_id"]
    return question
