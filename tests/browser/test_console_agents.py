"""The console's agent, artifact and pack pages in chromium against a live `podium serve`: a
chat with an offline agent streams its tokens into the page; an artifact patched over the API
shows up in two open tabs within a second, with the new version in its history; an approval
answered in the page lets the agent's tool call run; packs are enabled per app in the page."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import SRC, Server, User, start_server

pytestmark = pytest.mark.browser

# A tool that asks a person first, registered in the server by PODIUM_TOOL_MODULES.
APPROVAL_TOOLS = '''
import asyncio

from podium.tools.base import tool


@tool(requires_approval=True)
def console_refund(order: str, amount: int) -> str:
    """Refund an order.

    Args:
        order: the order's id
        amount: the amount in cents
    """
    return f"refunded {amount} on {order}"


@tool
async def console_wait(seconds: float) -> str:
    """Wait a while (an agent busy for that long).

    Args:
        seconds: how long
    """
    await asyncio.sleep(seconds)
    return "waited"
'''

REFUNDER = {
    "name": "refunder",
    "description": "Refunds orders, with a person's approval.",
    "model": "offline/script",
    "tools": ["console_refund"],
    "script": [
        {
            "tool_calls": [
                {"name": "console_refund", "arguments": {"order": "ord_7", "amount": 500}}
            ]
        },
        {"text": "Refund issued."},
    ],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """This module's server also imports a tool that requires approval."""
    folder = tmp_path_factory.mktemp("server")
    tools = folder / "tools"
    tools.mkdir()
    (tools / "console_approval_tools.py").write_text(APPROVAL_TOOLS)
    running = start_server(
        folder,
        PYTHONPATH=os.pathsep.join([str(SRC), str(tools)]),
        PODIUM_TOOL_MODULES="console_approval_tools",
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def app(admin: User, make_app: Callable[[User, str], dict[str, Any]]) -> dict[str, Any]:
    return make_app(admin, "agents-demo")


@pytest.fixture(scope="module")
def client(server: Server, admin: User) -> httpx.Client:
    return server.api(admin.token)


def open_page(page: Page, login: Callable[[Page, User], None], admin: User, hash_: str) -> None:
    login(page, admin)
    page.evaluate("(hash) => { location.hash = hash; }", hash_)


def test_a_chat_with_an_offline_agent_streams_its_tokens(
    page: Page,
    login: Callable[[Page, User], None],
    admin: User,
    app: dict[str, Any],
    client: httpx.Client,
    axe_check: Callable[[Page], list[dict[str, Any]]],
) -> None:
    made = client.post(
        f"/apps/{app['id']}/agents",
        json={"name": "echoer", "description": "Echoes, word by word.", "model": "offline/echo"},
    )
    assert made.status_code == 201, made.text
    open_page(page, login, admin, f"#/apps/{app['id']}/agents/echoer")
    expect(page.get_by_role("heading", level=1)).to_have_text("Agent echoer")
    # Every text the answer shows, in order: streamed tokens make it grow step by step.
    page.evaluate(
        """() => {
          window.answerLengths = [];
          const log = document.getElementById('transcript');
          new MutationObserver(() => {
            const answer = log.querySelector('.msg-assistant:last-of-type .msg-text');
            if (answer) window.answerLengths.push(answer.textContent.length);
          }).observe(log, {subtree: true, childList: true, characterData: true});
        }"""
    )
    message = "please tell me about the quarterly numbers for the northern region"
    page.get_by_label("Message").fill(message)
    page.get_by_role("button", name="Send").click()

    answer = page.locator(".msg-assistant .msg-text[data-done=true]")
    expect(answer).to_have_text(message)  # offline/echo answers with the message
    lengths = page.evaluate("window.answerLengths")
    partial = sorted({n for n in lengths if 0 < n < len(message)})
    assert len(partial) >= 2, f"the answer did not stream: its lengths were {lengths}"
    assert int(answer.get_attribute("data-deltas") or 0) > 1
    session = page.locator("#chat-session a").inner_text()
    history = client.get(f"/apps/{app['id']}/chat/{session}/history").json()
    assert [e["data"]["role"] for e in history] == ["user", "assistant"]

    page.get_by_label("Message").fill("and the southern one")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".msg-assistant .msg-text[data-done=true]")).to_have_count(2)
    axe_check(page)


def test_an_empty_message_is_refused_in_the_page(
    page: Page, login: Callable[[Page, User], None], admin: User, app: dict[str, Any]
) -> None:
    open_page(page, login, admin, f"#/apps/{app['id']}/agents/chat")
    expect(page.get_by_role("heading", level=1)).to_have_text("Agent chat")
    page.get_by_label("Message").fill("   ")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".toast.error")).to_have_text("write a message first")
    expect(page.locator(".msg")).to_have_count(0)


def test_a_patched_artifact_shows_in_two_tabs_within_a_second_with_its_history(
    page: Page,
    login: Callable[[Page, User], None],
    admin: User,
    app: dict[str, Any],
    client: httpx.Client,
    axe_check: Callable[[Page], list[dict[str, Any]]],
) -> None:
    made = client.post(
        f"/apps/{app['id']}/artifacts",
        json={"type": "report", "initial_state": {"title": "Q3 report", "progress": 10}},
    )
    assert made.status_code == 201, made.text
    artifact = made.json()["id"]
    hash_ = f"#/apps/{app['id']}/artifacts/{artifact}"
    open_page(page, login, admin, hash_)
    second = page.context.new_page()  # another tab of the same browser: the same login
    second.goto(f"/console/{hash_}")
    tabs = [page, second]
    for tab in tabs:
        expect(tab.locator("#artifact-version")).to_have_text("1")
        expect(tab.locator("#artifact-history li[data-version]")).to_have_count(1)
    page.wait_for_timeout(300)  # the tabs' subscriptions are made after the first drawing

    patched = client.patch(
        f"/apps/{app['id']}/artifacts/{artifact}",
        content=json.dumps({"progress": 75, "title": None, "owner": "ada"}),
        headers={"Content-Type": "application/merge-patch+json", "If-Match": '"1"'},
    )
    started = time.monotonic()
    assert patched.status_code == 200, patched.text
    for tab in tabs:
        left = max(1.0 - (time.monotonic() - started), 0.05)
        expect(tab.locator("#artifact-version")).to_have_text("2", timeout=left * 1000)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"the tabs showed version 2 after {elapsed:.2f} s"

    for tab in tabs:
        expect(tab.locator("#artifact-state")).to_contain_text('"progress": 75')
        expect(tab.locator("#artifact-state")).not_to_contain_text("Q3 report")
        newest = tab.locator("#artifact-history li[data-version]").first
        expect(newest).to_have_attribute("data-version", "2")
        expect(newest.locator(".diff li")).to_have_text(
            ['− title (was "Q3 report")', "~ progress: 10 → 75", '+ owner: "ada"']
        )
    expect(page.locator("#artifact-history li[data-version='1'] .diff li")).to_have_text(
        ['+ title: "Q3 report"', "+ progress: 10"]
    )
    axe_check(page)


def test_an_artifacts_buttons_send_its_actions_to_the_waiting_run(
    page: Page,
    login: Callable[[Page, User], None],
    admin: User,
    app: dict[str, Any],
    client: httpx.Client,
    screenshot: Callable[[Page, str], Path],
    axe_check: Callable[[Page], list[dict[str, Any]]],
) -> None:
    base = f"/apps/{app['id']}"
    assert client.put(f"{base}/packs/appbuilder").status_code == 200
    made = client.post(
        f"{base}/sessions",
        json={
            "flow": "ChallengeTracker",
            "input": {"title": "Ship it", "steps": ["build", "launch"]},
        },
    )
    assert made.status_code == 201, made.text
    session = made.json()["id"]
    deadline = time.monotonic() + 10
    while client.get(f"{base}/sessions/{session}").json()["status"] != "waiting":
        assert time.monotonic() < deadline, "the ChallengeTracker run did not wait for an action"
        time.sleep(0.1)
    artifact = client.get(f"{base}/artifacts", params={"session_id": session}).json()["items"][0]

    open_page(page, login, admin, f"#/apps/{app['id']}/artifacts/{artifact['id']}")
    expect(page.locator("#artifact-version")).to_have_text("1")
    button = page.locator("#artifact-actions").get_by_role("button", name="Complete step")
    expect(page.locator("#artifact-actions")).to_contain_text("A run waits for: complete_step.")
    button.click()
    expect(page.locator("#artifact-state")).to_contain_text('"completed_steps": 1')
    expect(page.locator("#artifact-history li[data-version]").first).to_contain_text(
        "~ completed_steps: 0 → 1"
    )
    expect(page.locator("#artifact-actions")).to_contain_text("A run waits for: complete_step.")
    screenshot(page, "artifact")
    axe_check(page)
    button.click()
    expect(page.locator("#artifact-state")).to_contain_text('"status": "completed"')
    expect(page.locator("#artifact-actions")).to_contain_text("No run is waiting")
    expect(page.locator("#artifact-actions [data-action]")).to_have_count(0)
    assert client.get(f"{base}/sessions/{session}").json()["status"] == "completed"


def test_an_artifact_action_with_bad_input_says_what_is_wrong(
    page: Page,
    login: Callable[[Page, User], None],
    admin: User,
    app: dict[str, Any],
    client: httpx.Client,
) -> None:
    made = client.post(f"/apps/{app['id']}/artifacts", json={"type": "note"})
    artifact = made.json()["id"]
    open_page(page, login, admin, f"#/apps/{app['id']}/artifacts/{artifact}")
    page.get_by_label("Action", exact=True).fill("launch_workflow")
    page.get_by_label("Payload (JSON, optional)").fill("{flow: ask}")
    page.get_by_role("button", name="Send action").click()
    expect(page.locator(".toast.error")).to_contain_text("the payload is not JSON")
    page.get_by_label("Payload (JSON, optional)").fill("{}")
    page.get_by_role("button", name="Send action").click()
    # The server's own message: what launch_workflow needs.
    expect(page.locator(".toast.error").last).to_contain_text("launch_workflow needs the flow")


def test_json_diff_names_added_removed_and_changed_paths(
    page: Page, login: Callable[[Page, User], None], admin: User, app: dict[str, Any]
) -> None:
    open_page(page, login, admin, f"#/apps/{app['id']}/artifacts")
    changes = page.evaluate(
        """async () => {
          const m = await import('/console/js/pages/artifact.js');
          const before = {a: 1, list: [1, 2, 3], deep: {x: {y: true}}, "odd key": 1};
          const after = m.mergePatch(before, {a: 2, list: [1, 5], deep: {x: {y: null, z: 0}},
                                              "odd key": null});
          return m.jsonDiff(before, after).map((c) => `${c.op} ${c.path}`);
        }"""
    )
    assert changes == [
        "changed a",
        "changed list[1]",
        "removed list[2]",
        "removed deep.x.y",
        "added deep.x.z",
        'removed ["odd key"]',
    ]


def test_an_approval_answered_in_the_page_lets_the_tool_call_run(
    page: Page,
    login: Callable[[Page, User], None],
    admin: User,
    app: dict[str, Any],
    client: httpx.Client,
    screenshot: Callable[[Page, str], Path],
    axe_check: Callable[[Page], list[dict[str, Any]]],
) -> None:
    assert client.post(f"/apps/{app['id']}/agents", json=REFUNDER).status_code == 201
    turn = client.post(
        f"/apps/{app['id']}/chat/messages", json={"agent": "refunder", "message": "refund ord_7"}
    ).json()
    assert turn["status"] == "interrupted", turn
    assert turn["question"]["choices"] == ["approve", "deny"]
    calls = f"/apps/{app['id']}/tool-calls"
    assert client.get(calls, params={"agent": "refunder"}).json()["items"] == []

    open_page(page, login, admin, f"#/apps/{app['id']}/approvals")
    card = page.locator(f"[data-interrupt='{turn['question']['id']}']")
    expect(card).to_contain_text("wants to run console_refund")
    expect(card).to_contain_text("Agent refunder")
    expect(card.get_by_role("link", name="Open the chat")).to_have_attribute(
        "href", f"#/apps/{app['id']}/agents/refunder?session={turn['session_id']}"
    )
    screenshot(page, "approvals")
    axe_check(page)
    card.get_by_role("button", name="Approve").click()
    expect(card).to_have_count(0)

    deadline = time.monotonic() + 10
    while True:
        items = client.get(calls, params={"agent": "refunder"}).json()["items"]
        if items or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [(c["tool"], c["status"], c["result"]) for c in items] == [
        ("console_refund", "ok", "refunded 500 on ord_7")
    ]
    session = client.get(f"/apps/{app['id']}/sessions/{turn['session_id']}").json()
    assert session["status"] != "waiting" and session["pending_question"] is None

    # The tool-call log page shows it too, filtered by agent and status.
    page.evaluate(
        "(hash) => { location.hash = hash; }",
        f"#/apps/{app['id']}/tool-calls?agent=refunder&status=ok",
    )
    row = page.locator("#tool-calls tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("refunded 500 on ord_7")
    page.evaluate(
        "(hash) => { location.hash = hash; }",
        f"#/apps/{app['id']}/tool-calls?agent=refunder&status=error",
    )
    expect(page.get_by_text("No tool calls match.")).to_be_visible()
    page.evaluate(
        "(hash) => { location.hash = hash; }",
        f"#/apps/{app['id']}/tool-calls?session_id={turn['session_id']}",
    )
    expect(row).to_have_count(1)
    expect(row).to_contain_text("console_refund")
    expect(page.get_by_label("Session")).to_have_value(turn["session_id"])


def test_a_denied_approval_in_the_chat_skips_the_call(
    page: Page,
    login: Callable[[Page, User], None],
    admin: User,
    app: dict[str, Any],
    client: httpx.Client,
) -> None:
    client.post(f"/apps/{app['id']}/agents", json={**REFUNDER, "name": "refunder2"})
    open_page(page, login, admin, f"#/apps/{app['id']}/agents/refunder2")
    page.get_by_label("Message").fill("refund ord_7")
    page.get_by_role("button", name="Send").click()
    question = page.locator(".msg-question")
    expect(question).to_contain_text("wants to run console_refund")
    question.get_by_role("button", name="deny").click()
    expect(page.locator(".msg-tool")).to_contain_text("console_refund — skipped")
    expect(page.locator(".msg-assistant .msg-text[data-done=true]")).to_have_text("Refund issued.")
    items = client.get(f"/apps/{app['id']}/tool-calls", params={"agent": "refunder2"}).json()
    assert [(c["status"], c["error"]) for c in items["items"]] == [
        ("skipped", "the user denied this call")
    ]


def test_a_chat_waiting_for_approval_opened_again_is_answered_in_its_page(
    page: Page,
    login: Callable[[Page, User], None],
    admin: User,
    app: dict[str, Any],
    client: httpx.Client,
    screenshot: Callable[[Page, str], Path],
    axe_check: Callable[[Page], list[dict[str, Any]]],
) -> None:
    client.post(f"/apps/{app['id']}/agents", json={**REFUNDER, "name": "refunder3"})
    turn = client.post(
        f"/apps/{app['id']}/chat/messages", json={"agent": "refunder3", "message": "refund ord_7"}
    ).json()
    assert turn["status"] == "interrupted", turn
    open_page(page, login, admin, f"#/apps/{app['id']}/agents/refunder3")
    recent = page.locator("#recent-chats li")
    expect(recent).to_have_count(1)
    expect(recent).to_contain_text("refund ord_7")
    expect(recent).to_contain_text("waiting")
    recent.get_by_role("link").click()
    expect(page.locator(".msg-user")).to_have_text(["Yourefund ord_7"])
    page.locator(".msg-question").get_by_role("button", name="approve").click()
    expect(page.locator(".msg-tool")).to_have_count(1)
    expect(page.locator(".msg-tool")).to_contain_text("console_refund — ok")
    expect(page.locator(".msg-tool")).to_contain_text('arguments {"order":"ord_7","amount":500}')
    expect(page.locator(".msg-tool")).to_contain_text("result refunded 500 on ord_7")
    expect(page.locator(".msg-assistant .msg-text[data-done=true]")).to_have_text("Refund issued.")
    expect(recent).to_contain_text("completed")
    screenshot(page, "agent-chat")
    axe_check(page)


def test_agents_list_shows_an_agent_busy_then_idle_live(
    page: Page,
    login: Callable[[Page, User], None],
    admin: User,
    app: dict[str, Any],
    client: httpx.Client,
    axe_check: Callable[[Page], list[dict[str, Any]]],
) -> None:
    sleeper = {
        "name": "sleeper",
        "model": "offline/script",
        "tools": ["console_wait"],
        "script": [
            {"tool_calls": [{"name": "console_wait", "arguments": {"seconds": 2.5}}]},
            {"text": "Rested."},
        ],
    }
    assert client.post(f"/apps/{app['id']}/agents", json=sleeper).status_code == 201
    open_page(page, login, admin, f"#/apps/{app['id']}/agents")
    row = page.locator("tr[data-agent='sleeper']")
    expect(row.locator(".badge").first).to_have_text("idle")
    axe_check(page)
    with ThreadPoolExecutor(1) as pool:
        turn = pool.submit(
            client.post,
            f"/apps/{app['id']}/chat/messages",
            json={"agent": "sleeper", "message": "rest a little"},
        )
        expect(row.locator(".badge").first).to_have_text("busy", timeout=2500)
        assert turn.result(timeout=30).json()["answer"] == "Rested."
    expect(row.locator(".badge").first).to_have_text("idle", timeout=4000)


def test_a_chat_whose_socket_drops_mid_turn_gets_its_answer_once(
    page: Page,
    login: Callable[[Page, User], None],
    admin: User,
    app: dict[str, Any],
    client: httpx.Client,
) -> None:
    napper = {
        "name": "napper",
        "model": "offline/script",
        "tools": ["console_wait"],
        "script": [
            {"tool_calls": [{"name": "console_wait", "arguments": {"seconds": 1.5}}]},
            {"text": "Rested."},
        ],
    }
    assert client.post(f"/apps/{app['id']}/agents", json=napper).status_code == 201
    open_page(page, login, admin, f"#/apps/{app['id']}/agents/napper")
    page.get_by_label("Message").fill("rest a little")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#chat-session a")).to_have_count(1)  # chat.accepted came
    # The tab's one socket drops (as a network blip would) while the tool runs.
    page.evaluate("async () => (await import('/console/js/api.js')).api.socket().ws.close()")
    answer = page.locator(".msg-assistant .msg-text[data-done=true]")
    expect(answer).to_have_text("Rested.", timeout=8000)
    expect(page.locator(".msg-tool")).to_contain_text("console_wait — ok")
    session = page.locator("#chat-session a").inner_text()
    history = client.get(f"/apps/{app['id']}/chat/{session}/history").json()
    assert [e["data"]["content"] for e in history] == ["rest a little", "Rested."]
    chats = client.get(f"/apps/{app['id']}/sessions", params={"flow": "chat"}).json()
    assert [s["id"] for s in chats["items"] if s["state"].get("agent") == "napper"] == [session]


def test_agents_list_enables_and_disables(
    page: Page,
    login: Callable[[Page, User], None],
    admin: User,
    app: dict[str, Any],
    client: httpx.Client,
) -> None:
    open_page(page, login, admin, f"#/apps/{app['id']}/agents")
    row = page.locator("tr[data-agent='recommendations']")
    expect(row).to_contain_text("idle")
    row.get_by_role("button", name="Disable recommendations").click()
    expect(row).to_contain_text("disabled")
    assert client.get(f"/apps/{app['id']}/agents/recommendations").json()["enabled"] is False
    row.get_by_role("button", name="Enable recommendations").click()
    expect(row).to_contain_text("enabled")
    assert client.get(f"/apps/{app['id']}/agents/recommendations").json()["enabled"] is True


def test_packs_are_enabled_per_app_in_the_page_and_the_leads_view_lists_leads(
    page: Page,
    login: Callable[[Page, User], None],
    admin: User,
    app: dict[str, Any],
    client: httpx.Client,
    screenshot: Callable[[Page, str], Path],
    axe_check: Callable[[Page], list[dict[str, Any]]],
) -> None:
    packs = f"/apps/{app['id']}/packs"
    assert not next(p for p in client.get(packs).json() if p["name"] == "leads")["enabled"]
    open_page(page, login, admin, f"#/apps/{app['id']}/packs")
    row = page.locator("tr[data-pack='leads']")
    row.get_by_role("button", name="Enable leads").click()
    expect(page.locator("tr[data-pack='leads']")).to_contain_text("enabled")
    assert next(p for p in client.get(packs).json() if p["name"] == "leads")["enabled"]
    screenshot(page, "packs")
    axe_check(page)

    page.locator("tr[data-pack='leads']").get_by_role("link", name="leads").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pack leads")
    expect(page.get_by_text("No leads yet.")).to_be_visible()
    page.get_by_label("Name").fill("Ada Lovelace")
    page.get_by_label("E-mail").fill("ada@example.com")
    page.get_by_label("Service").select_option("web_development")
    page.get_by_label("Message").fill("We need a new website for our shop")
    page.get_by_role("button", name="Submit lead").click()
    expect(page.locator("#leads tbody tr")).to_contain_text("Ada Lovelace")
    listed = client.get(f"{packs}/leads/leads").json()["items"]
    assert [lead["email"] for lead in listed] == ["ada@example.com"]
    page.get_by_role("button", name="Analyze Ada Lovelace").click()
    lead_row = page.locator("#leads tbody tr")
    expect(lead_row).to_contain_text("analyzed", timeout=15_000)
    analyzed = client.get(f"{packs}/leads/leads").json()["items"][0]
    assert analyzed["status"] == "analyzed"
    expect(lead_row).to_contain_text(f"{analyzed['score']}")
    expect(lead_row).to_contain_text(analyzed["tier"])
    axe_check(page)

    page.evaluate("(hash) => { location.hash = hash; }", f"#/apps/{app['id']}/packs")
    page.locator("tr[data-pack='leads']").get_by_role("button", name="Disable leads").click()
    expect(page.locator("tr[data-pack='leads']")).to_contain_text("disabled")
    assert client.get(f"{packs}/leads/leads").status_code == 404
