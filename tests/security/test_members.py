"""Finding 10, accounts: any user could look up any account by username or email, add it to
their app without its consent, and read its email. Now adding a member is an invitation that
answers the same for a known and an unknown user, nobody joins without accepting, invitations
expire, and member lists show emails only to the app's admins and owners."""

from __future__ import annotations

import time
from typing import Any

import pytest
from tests.api.live import LiveServer
from tests.security.conftest import Tenant, security_env

INVITATION_SECONDS = 3


@pytest.fixture
def live_env() -> dict[str, str]:
    return security_env(PODIUM_INVITATION_DAYS=str(INVITATION_SECONDS / 86400))


def without_ids(invitation: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in invitation.items()
        if k not in ("id", "invitee", "created_at", "expires_at")
    }


def test_inviting_tells_nothing_about_which_accounts_exist(make_tenant: Any) -> None:
    mallory: Tenant = make_tenant("mallory")
    victim: Tenant = make_tenant("victim")
    known = mallory.request("POST", "/apps/{app}/members", {"user": "victim@example.com"})
    unknown = mallory.request("POST", "/apps/{app}/members", {"user": "ghost@example.com"})
    known_name = mallory.request("POST", "/apps/{app}/members", {"user": "victim"})
    unknown_name = mallory.request("POST", "/apps/{app}/members", {"user": "nobody-here"})
    assert [known[0], unknown[0], known_name[0], unknown_name[0]] == [202] * 4
    assert without_ids(known[1]) == without_ids(unknown[1]) == without_ids(unknown_name[1])
    assert known[1]["invitee"] == "victim@example.com" and "usr_" not in str(known[1])
    # The app's own list of invitations shows them all alike.
    listed = mallory.call("GET", "/apps/{app}/invitations")
    assert {i["invitee"] for i in listed} == {
        "victim@example.com",
        "ghost@example.com",
        "victim",
        "nobody-here",
    }
    # Nothing joined: the victim is not a member and does not see the app.
    members = mallory.call("GET", "/apps/{app}/members")
    assert [m["username"] for m in members] == ["mallory"]
    assert victim.request("GET", f"/apps/{mallory.app_id}")[0] == 404
    assert [a["name"] for a in victim.call("GET", "/apps")["items"]] == ["victim-app"]
    # The victim sees the invitations (by email and by name) and may decline them.
    received = victim.call("GET", "/invitations")
    assert [(i["app_name"], i["invited_by"]) for i in received] == [("mallory-app", "mallory")] * 2
    for invitation in received:
        assert victim.request("POST", f"/invitations/{invitation['id']}/decline")[0] == 204
    assert victim.call("GET", "/invitations") == []
    assert [m["username"] for m in mallory.call("GET", "/apps/{app}/members")] == ["mallory"]


def test_a_user_answers_only_their_own_invitations(make_tenant: Any) -> None:
    alice: Tenant = make_tenant("alice")
    mallory: Tenant = make_tenant("mallory")
    _, invitation = alice.request("POST", "/apps/{app}/members", {"user": "bob@example.com"})
    status, body = mallory.request("POST", f"/invitations/{invitation['id']}/accept")
    assert status == 404 and body["error"]["code"] == "not_found"
    assert mallory.call("GET", "/invitations") == []
    assert mallory.request("GET", f"/apps/{alice.app_id}")[0] == 404
    assert [m["username"] for m in alice.call("GET", "/apps/{app}/members")] == ["alice"]
    # Nor can an outsider invite anyone to the app (themselves included).
    status, _ = mallory.request("POST", f"/apps/{alice.app_id}/members", {"user": "mallory"})
    assert status == 404


def test_an_invitation_expires(make_tenant: Any) -> None:
    alice: Tenant = make_tenant("alice")
    bob: Tenant = make_tenant("bob")
    _, invitation = alice.request("POST", "/apps/{app}/members", {"user": "bob"})
    assert [i["id"] for i in bob.call("GET", "/invitations")] == [invitation["id"]]
    time.sleep(INVITATION_SECONDS + 0.5)
    assert bob.call("GET", "/invitations") == []
    assert alice.call("GET", "/apps/{app}/invitations") == []
    status, body = bob.request("POST", f"/invitations/{invitation['id']}/accept")
    assert status == 409 and "expired" in body["error"]["message"]
    assert bob.request("GET", f"/apps/{alice.app_id}")[0] == 404


def test_member_emails_are_for_the_apps_admins(
    live: LiveServer, admin_token: str, make_tenant: Any
) -> None:
    alice: Tenant = make_tenant("alice")
    bob: Tenant = make_tenant("bob")
    carol: Tenant = make_tenant("carol")
    for user, role in ((bob, "viewer"), (carol, "admin")):
        _, invitation = alice.request(
            "POST", "/apps/{app}/members", {"user": user.username, "role": role}
        )
        user.call("POST", f"/invitations/{invitation['id']}/accept")
    path = f"/apps/{alice.app_id}/members"
    as_viewer = {m["username"]: m["email"] for m in bob.call("GET", path)}
    assert as_viewer == {"alice": None, "bob": None, "carol": None}
    as_admin = {m["username"]: m["email"] for m in carol.call("GET", path)}
    assert as_admin["bob"] == "bob@example.com"
    # A platform administrator adds a user directly (and learns whether it exists).
    status, member = live.request(
        "POST", path, {"user": "mallory-x", "role": "viewer"}, admin_token
    )
    assert status == 404
    live.call(
        "POST",
        "/users",
        {"email": "dave@example.com", "username": "dave", "password": "change-me-please"},
        admin_token,
    )
    status, member = live.request("POST", path, {"user": "dave", "role": "viewer"}, admin_token)
    assert status == 201 and member["username"] == "dave"
