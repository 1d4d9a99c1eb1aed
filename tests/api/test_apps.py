"""Apps, members and API keys over HTTP: what each role may do, the last owner stays, keys are
shown once and act in their own app only."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from tests.api.conftest import ASK_FLOW, CHAIN_FLOW, Actor


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code


def join(inviter: Actor, base: str, ref: str, role: str, invitee: Actor) -> None:
    """`inviter` invites `ref` to the app (202, an invitation) and `invitee` accepts it."""
    invited = inviter.post(f"{base}/members", {"user": ref, "role": role})
    assert invited.status_code == 202, invited.text
    mine = [i for i in invitee.get("/api/v1/invitations").json() if i["id"] == invited.json()["id"]]
    assert [(i["role"], i["invited_by"]) for i in mine] == [(role, inviter.user["username"])]
    accepted = invitee.post(f"/api/v1/invitations/{invited.json()['id']}/accept")
    assert accepted.status_code == 200 and accepted.json()["role"] == role, accepted.text


def test_an_owner_creates_renames_lists_and_deletes_an_app(api: TestClient, make_user: Any) -> None:
    alice: Actor = make_user("alice")
    created = alice.post("/api/v1/apps", {"name": "support", "description": "tickets"})
    assert created.status_code == 201, created.text
    app = created.json()
    assert (app["name"], app["description"], app["role"]) == ("support", "tickets", "owner")
    assert_error(alice.post("/api/v1/apps", {"name": "support"}), 409, "conflict")
    assert_error(alice.post("/api/v1/apps", {"name": ""}), 422, "invalid_input")

    renamed = alice.patch(f"/api/v1/apps/{app['id']}", {"name": "helpdesk"})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["description"]) == ("helpdesk", "tickets")
    assert alice.get(f"/api/v1/apps/{app['id']}").json()["name"] == "helpdesk"
    assert [a["name"] for a in alice.get("/api/v1/apps").json()["items"]] == ["helpdesk"]

    assert alice.delete(f"/api/v1/apps/{app['id']}").status_code == 204
    assert_error(alice.get(f"/api/v1/apps/{app['id']}"), 404, "not_found")
    assert alice.get("/api/v1/apps").json()["items"] == []
    # The name is free again.
    assert alice.post("/api/v1/apps", {"name": "support"}).status_code == 201


def test_what_a_viewer_a_member_and_an_admin_may_do(api: TestClient, make_user: Any) -> None:
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    app_id = alice.create_app("team")
    base = f"/api/v1/apps/{app_id}"
    assert alice.post(f"{base}/flows", CHAIN_FLOW).status_code == 201
    join(alice, base, "bob@example.com", "viewer", bob)
    join(alice, base, "carol", "member", carol)
    members = {m["username"]: m["role"] for m in bob.get(f"{base}/members").json()}
    assert members == {"alice": "owner", "bob": "viewer", "carol": "member"}
    assert_error(alice.post(f"{base}/members", {"user": "carol"}), 409, "conflict")
    # An unknown user is invited the same way (nothing tells whether the account exists).
    assert alice.post(f"{base}/members", {"user": "nobody@example.com"}).status_code == 202

    # A viewer reads, and writes nothing.
    assert bob.get(f"{base}/sessions").status_code == 200
    assert bob.get(f"{base}/flows/chain").status_code == 200
    assert bob.get(base).json()["role"] == "viewer"
    assert_error(bob.post(f"{base}/sessions", {"flow": "chain"}), 403, "forbidden")
    assert_error(bob.post(f"{base}/flows", ASK_FLOW), 403, "forbidden")
    assert [f["name"] for f in bob.get(f"{base}/flows").json() if not f["shipped"]] == ["chain"]

    # A member starts sessions and registers flows, and does not manage the app.
    started = carol.post(f"{base}/sessions", {"flow": "chain", "input": {}})
    assert started.status_code == 201, started.text
    assert carol.post(f"{base}/flows", ASK_FLOW).status_code == 201
    for response in (
        carol.post(f"{base}/members", {"user": "root", "role": "viewer"}),
        carol.patch(f"{base}/members/{bob.user['id']}", {"role": "member"}),
        carol.delete(f"{base}/members/{bob.user['id']}"),
        carol.post(f"{base}/api-keys", {"name": "k"}),
        carol.get(f"{base}/api-keys"),
        carol.patch(base, {"name": "carols-now"}),
        carol.delete(base),
    ):
        assert_error(response, 403, "forbidden")
    assert {m["username"] for m in alice.get(f"{base}/members").json()} == {"alice", "bob", "carol"}

    # An admin manages members, keys and the app, but not owners and not the app's existence.
    promoted = alice.patch(f"{base}/members/{carol.user['id']}", {"role": "admin"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    assert carol.patch(f"{base}/members/{bob.user['id']}", {"role": "member"}).status_code == 200
    assert carol.post(f"{base}/api-keys", {"name": "ci"}).status_code == 201
    assert carol.patch(base, {"description": "ours"}).status_code == 200
    assert_error(
        carol.patch(f"{base}/members/{bob.user['id']}", {"role": "owner"}), 403, "forbidden"
    )
    assert_error(
        carol.patch(f"{base}/members/{alice.user['id']}", {"role": "viewer"}), 403, "forbidden"
    )
    assert_error(carol.delete(f"{base}/members/{alice.user['id']}"), 403, "forbidden")
    assert_error(carol.delete(base), 403, "forbidden")
    assert bob.post(f"{base}/sessions", {"flow": "chain"}).status_code == 201  # now a member

    assert carol.delete(f"{base}/members/{bob.user['id']}").status_code == 204
    assert_error(bob.get(base), 404, "not_found")  # no longer a member: the app is gone for bob
    assert alice.get(base).json()["role"] == "owner"


def test_the_last_owner_cannot_be_removed_or_demoted(api: TestClient, make_user: Any) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    app_id = alice.create_app("solo")
    base = f"/api/v1/apps/{app_id}"
    assert_error(
        alice.patch(f"{base}/members/{alice.user['id']}", {"role": "admin"}), 409, "conflict"
    )
    assert_error(alice.delete(f"{base}/members/{alice.user['id']}"), 409, "conflict")
    assert alice.get(base).json()["role"] == "owner"

    join(alice, base, "bob", "owner", bob)
    demoted = alice.patch(f"{base}/members/{alice.user['id']}", {"role": "admin"})
    assert demoted.status_code == 200, demoted.text
    assert_error(bob.delete(f"{base}/members/{bob.user['id']}"), 409, "conflict")
    assert_error(bob.patch(f"{base}/members/{bob.user['id']}", {"role": "viewer"}), 409, "conflict")
    roles = {m["username"]: m["role"] for m in bob.get(f"{base}/members").json()}
    assert roles == {"alice": "admin", "bob": "owner"}


def test_api_keys_are_shown_once_act_in_their_app_and_stop_when_revoked(
    api: TestClient, make_user: Any
) -> None:
    alice = make_user("alice")
    app_id, other_app = alice.create_app("keyed"), alice.create_app("other")
    base = f"/api/v1/apps/{app_id}"
    assert alice.post(f"{base}/flows", CHAIN_FLOW).status_code == 201

    made = alice.post(f"{base}/api-keys", {"name": "backend", "role": "member"})
    assert made.status_code == 201, made.text
    member_key = made.json()
    secret = member_key["key"]
    assert secret.startswith("pk_") and member_key["prefix"] == secret[:10]
    viewer_secret = alice.post(f"{base}/api-keys", {"name": "dash", "role": "viewer"}).json()["key"]
    assert_error(
        alice.post(f"{base}/api-keys", {"name": "x", "role": "owner"}), 422, "invalid_input"
    )

    listed = alice.get(f"{base}/api-keys")
    assert [k["name"] for k in listed.json()] == ["backend", "dash"]
    assert all("key" not in k for k in listed.json())
    assert secret not in listed.text and viewer_secret not in listed.text

    def as_key(key: str, method: str, path: str, json: Any = None) -> Any:
        return api.request(method, path, json=json, headers={"X-API-Key": key})

    assert as_key(secret, "GET", base).json()["role"] == "member"
    assert [a["id"] for a in as_key(secret, "GET", "/api/v1/apps").json()["items"]] == [app_id]
    started = as_key(secret, "POST", f"{base}/sessions", {"flow": "chain", "user_id": "end-user-1"})
    assert started.status_code == 201, started.text
    assert started.json()["user_id"] == "end-user-1"

    # Its creator owns the other app; the key still has nothing to do with it.
    assert_error(as_key(secret, "GET", f"/api/v1/apps/{other_app}"), 404, "not_found")
    assert_error(as_key(secret, "GET", f"/api/v1/apps/{other_app}/sessions"), 404, "not_found")
    assert_error(as_key(secret, "POST", "/api/v1/apps", {"name": "by-key"}), 403, "forbidden")
    assert_error(as_key(secret, "GET", "/api/v1/auth/me"), 403, "forbidden")
    assert_error(as_key(secret, "POST", f"{base}/api-keys", {"name": "more"}), 403, "forbidden")

    assert as_key(viewer_secret, "GET", f"{base}/sessions").status_code == 200
    used = {k["name"]: k["last_used_at"] for k in alice.get(f"{base}/api-keys").json()}
    assert used["backend"] is not None and used["dash"] is not None  # what a key audit reads
    assert_error(
        as_key(viewer_secret, "POST", f"{base}/sessions", {"flow": "chain"}), 403, "forbidden"
    )
    assert_error(as_key(viewer_secret, "POST", f"{base}/flows", ASK_FLOW), 403, "forbidden")

    assert alice.delete(f"{base}/api-keys/{member_key['id']}").status_code == 204
    response = as_key(secret, "GET", base)
    assert_error(response, 401, "unauthorized")
    assert_error(alice.delete(f"{base}/api-keys/{member_key['id']}"), 404, "not_found")
    revoked = next(k for k in alice.get(f"{base}/api-keys").json() if k["id"] == member_key["id"])
    assert revoked["revoked_at"] is not None
    assert as_key(viewer_secret, "GET", base).status_code == 200  # the other key still works


def test_invitations_are_accepted_declined_or_withdrawn_and_emails_stay_with_admins(
    api: TestClient, admin: Actor, make_user: Any
) -> None:
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    base = f"/api/v1/apps/{alice.create_app('club')}"
    # Invited by email: nobody joins without accepting.
    invited = alice.post(f"{base}/members", {"user": " Bob@Example.COM ", "role": "member"})
    assert invited.status_code == 202, invited.text
    invitation = invited.json()
    assert (invitation["invitee"], invitation["status"]) == ("bob@example.com", "pending")
    assert_error(bob.get(base), 404, "not_found")
    assert [i["id"] for i in alice.get(f"{base}/invitations").json()] == [invitation["id"]]
    # Another user cannot see, accept or decline it.
    assert carol.get("/api/v1/invitations").json() == []
    assert_error(carol.post(f"/api/v1/invitations/{invitation['id']}/accept"), 404, "not_found")
    assert_error(carol.post(f"/api/v1/invitations/{invitation['id']}/decline"), 404, "not_found")
    # Bob declines: still not a member; the invitation is spent.
    assert bob.post(f"/api/v1/invitations/{invitation['id']}/decline").status_code == 204
    assert_error(bob.post(f"/api/v1/invitations/{invitation['id']}/accept"), 409, "conflict")
    assert_error(bob.get(base), 404, "not_found")
    assert alice.get(f"{base}/invitations").json() == []

    # Withdrawn before it is accepted: gone for the invitee.
    again = alice.post(f"{base}/members", {"user": "bob", "role": "viewer"}).json()
    assert alice.delete(f"{base}/invitations/{again['id']}").status_code == 204
    assert bob.get("/api/v1/invitations").json() == []
    assert_error(bob.post(f"/api/v1/invitations/{again['id']}/accept"), 409, "conflict")

    # Accepted: a member; emails are shown to the app's admins and owners only.
    join(alice, base, bob.user["id"], "viewer", bob)
    seen_by_bob = {m["username"]: m["email"] for m in bob.get(f"{base}/members").json()}
    assert seen_by_bob == {"alice": None, "bob": None}
    seen_by_alice = {m["username"]: m["email"] for m in alice.get(f"{base}/members").json()}
    assert seen_by_alice == {"alice": "alice@example.com", "bob": "bob@example.com"}

    # A platform administrator adds a user at once (201), and an unknown one is 404 for them.
    added = admin.post(f"{base}/members", {"user": "carol", "role": "viewer"})
    assert added.status_code == 201 and added.json()["email"] == "carol@example.com", added.text
    assert_error(admin.post(f"{base}/members", {"user": "nobody"}), 404, "not_found")
