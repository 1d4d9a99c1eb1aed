"""A user of another app sees none of it in the console.

Vera owns an app with a flow, a session waiting at a question (with input and metadata) and an
artifact of that session. Otto owns an app of his own. Otto logs in through the console's form:
his apps list shows his app and nothing of Vera's, and typing the addresses of Vera's app, flow,
session, artifact, events, ... (`#/apps/<vera's app>/sessions/<id>`) shows a not-found or
forbidden message, and the page holds no name, secret or id of Vera's that the address did not
itself contain (the same rule as the API's tests/api/test_isolation.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import ROOT, Server, User

pytestmark = pytest.mark.browser

DENIED = re.compile(
    r"not found|no such|does not exist|doesn't exist|forbidden|no access|not allowed|"
    r"not a member|permission",
    re.I,
)


@dataclass
class Victim:
    user: User
    app_id: str
    ids: dict[str, str]  # what kind of object -> its id
    secrets: list[str]  # strings only Vera's data holds

    def leaks(self, text: str, address: str) -> list[str]:
        """Vera's secrets and ids in `text`, except ids the address itself carries."""
        found = [secret for secret in self.secrets if secret.lower() in text.lower()]
        found += [
            f"{kind} id {value}"
            for kind, value in self.ids.items()
            if value in text and value not in address
        ]
        return found


@pytest.fixture(scope="module")
def victim(
    server: Server,
    make_user: Callable[[str], User],
    make_app: Callable[[User, str], Any],
) -> Victim:
    vera = make_user("veravictim")
    app = make_app(vera, "vera-hidden-garden")
    client = server.api(vera.token)
    flow = json.loads((ROOT / "examples" / "flows" / "ask.json").read_text())
    flow["name"] = "vera_private_flow"
    flow["description"] = "VERA-FLOW-DESCRIPTION"
    flow["nodes"][0]["config"]["question"] = "VERA-QUESTION: what is the vault code?"
    created = client.post(f"/apps/{app['id']}/flows", json=flow)
    assert created.status_code == 201, created.text
    session = client.post(
        f"/apps/{app['id']}/sessions",
        json={
            "flow": "vera_private_flow",
            "input": {"vault": "VERA-INPUT-SECRET"},
            "metadata": {"note": "VERA-METADATA-SECRET"},
        },
    )
    assert session.status_code == 201, session.text
    session_id = session.json()["id"]
    artifact = client.post(
        f"/apps/{app['id']}/artifacts",
        json={
            "type": "VeraLedger",
            "initial_state": {"balance": "VERA-ARTIFACT-SECRET"},
            "session_id": session_id,
        },
    )
    assert artifact.status_code == 201, artifact.text
    return Victim(
        user=vera,
        app_id=app["id"],
        ids={
            "app": app["id"],
            "user": vera.id,
            "flow": created.json()["id"],
            "session": session_id,
            "artifact": artifact.json()["id"],
        },
        secrets=[
            "vera-hidden-garden",
            "veravictim",
            "vera_private_flow",
            "VERA-FLOW-DESCRIPTION",
            "VERA-QUESTION",
            "VERA-INPUT-SECRET",
            "VERA-METADATA-SECRET",
            "VeraLedger",
            "VERA-ARTIFACT-SECRET",
        ],
    )


@pytest.fixture(scope="module")
def outsider(make_user: Callable[[str], User], make_app: Callable[[User, str], Any]) -> User:
    otto = make_user("ottooutsider")
    make_app(otto, "otto-own-app")
    return otto


def page_text(page: Page) -> str:
    """What the page shows and holds: its visible text and its markup."""
    return str(page.evaluate("document.body.innerText")) + "\n" + page.content()


def test_the_apps_list_shows_only_the_users_own_apps(
    page: Page,
    login: Callable[[Page, User], None],
    axe_check: Callable[[Page], Any],
    victim: Victim,
    outsider: User,
) -> None:
    login(page, outsider)
    page.evaluate("location.hash = '#/apps'")
    expect(page.locator("main")).to_contain_text("otto-own-app")
    page.wait_for_load_state("networkidle")
    assert victim.leaks(page_text(page), page.url) == []
    axe_check(page)


ADDRESSES = [
    "#/apps/{app}",
    "#/apps/{app}/sessions",
    "#/apps/{app}/sessions/{session}",
    "#/apps/{app}/flows",
    "#/apps/{app}/flows/vera_private_flow",
    "#/apps/{app}/artifacts",
    "#/apps/{app}/artifacts/{artifact}",
    "#/apps/{app}/events",
    "#/apps/{app}/settings",
    "#/apps/{app}/agents",
    "#/apps/{app}/approvals",
    "#/apps/{app}/tool-calls",
    "#/apps/{app}/packs",
]


@pytest.mark.timeout(180)
def test_typing_the_addresses_of_another_apps_objects_shows_nothing_of_them(
    page: Page,
    login: Callable[[Page, User], None],
    axe_check: Callable[[Page], Any],
    victim: Victim,
    outsider: User,
) -> None:
    login(page, outsider)
    for template in ADDRESSES:
        address = template.format(**victim.ids)
        # A fresh document per address: nothing is left over from the page before.
        page.goto("about:blank")
        page.goto(f"/console/{address}")
        message = page.locator("main").get_by_text(DENIED).first
        try:
            expect(message).to_be_visible()
        except AssertionError:
            text = page.evaluate("document.body.innerText")
            raise AssertionError(
                f"{address}: no not-found/forbidden message; the page says:\n{text[:1500]}"
            ) from None
        page.wait_for_load_state("networkidle")
        leaks = victim.leaks(page_text(page), address)
        assert leaks == [], f"{address} shows {leaks}"
        axe_check(page)  # the error states are accessible too


def test_the_owner_sees_her_objects_at_the_same_addresses(
    page: Page, login: Callable[[Page, User], None], victim: Victim
) -> None:
    """The same addresses work for Vera, so the messages above come from the isolation and not
    from a wrong address."""
    login(page, victim.user)
    shown = {
        "#/apps/{app}/sessions/{session}": "VERA-QUESTION",
        "#/apps/{app}/flows/vera_private_flow": "vera_private_flow",
        "#/apps/{app}/artifacts/{artifact}": "VERA-ARTIFACT-SECRET",
        "#/apps/{app}/sessions": "vera_private_flow",
    }
    for template, expected in shown.items():
        address = template.format(**victim.ids)
        page.goto("about:blank")
        page.goto(f"/console/{address}")
        expect(page.locator("main"), address).to_contain_text(expected)
        # The detector used above finds what is there.
        assert victim.leaks(page_text(page), address), address
