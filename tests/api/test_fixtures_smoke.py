"""The shared API fixtures work: an admin logs in, creates a user and an app."""

from __future__ import annotations

from tests.api.conftest import Actor


def test_an_admin_creates_a_user_who_creates_an_app(admin: Actor, make_user: object) -> None:
    alice = make_user("alice")  # type: ignore[operator]
    app_id = alice.create_app("alice-app")
    assert alice.get(f"/api/v1/apps/{app_id}").json()["role"] == "owner"
    assert admin.get("/api/v1/users").json()["items"][0]["username"] in {"root", "alice"}
