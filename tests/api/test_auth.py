"""Authentication over HTTP: which tokens are accepted, refresh rotation and reuse detection,
logout, login, sign-up, the platform admins' /users, and `podium users create-admin`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from tests.api.conftest import PASSWORD, Actor, api_settings, login

from podium.assembly import create_app
from podium.cli import main
from podium.config import Settings
from podium.storage import accounts
from podium.storage.urls import sqlite_url

PROTECTED = "/api/v1/apps"


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return dict(body["error"])


def assert_unauthorized(response: Any) -> dict[str, Any]:
    error = assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    return error


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- tokens put together by hand ------------------------------------------------------------


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def craft(claims: dict[str, Any], key: str, alg: str = "HS256") -> str:
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}.get(alg)
    signature = ""
    if digest is not None:
        signature = b64url(hmac.new(key.encode(), f"{header}.{payload}".encode(), digest).digest())
    return f"{header}.{payload}.{signature}"


def access_claims(user_id: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "podium",
        "aud": "podium-api",
        "sub": user_id,
        "iat": now,
        "exp": now + 600,
        "jti": "rtk_crafted",
        "typ": "access",
    }
    claims.update(changes)
    return claims


async def _insert_user(client: TestClient, username: str) -> str:
    # Straight into the table: these tests only need a user id to put in a token.
    store = client.app.state.services.podium.store  # type: ignore[attr-defined]
    record = await store.run_script(
        lambda: accounts.create_user(
            f"{username}@example.com", username, "unused-hash", False, time.time()
        )
    )
    return str(record.id)


@pytest.fixture
def user_id(api: TestClient) -> str:
    return str(api.portal.call(_insert_user, api, "carol"))  # type: ignore[union-attr]


Crafter = Callable[[str, str], str]  # (user_id, server secret) → token
CRAFTED: dict[str, Crafter] = {
    "alg none": lambda user, key: craft(access_claims(user), key, alg="none"),
    "alg HS512 with the right key": lambda user, key: craft(access_claims(user), key, "HS512"),
    "signed with another secret": lambda user, key: craft(
        access_claims(user), "another-secret-that-is-long-enough-for-hs256"
    ),
    "expired": lambda user, key: craft(
        access_claims(user, iat=int(time.time()) - 1200, exp=int(time.time()) - 600), key
    ),
    "wrong aud": lambda user, key: craft(access_claims(user, aud="another-api"), key),
    "wrong iss": lambda user, key: craft(access_claims(user, iss="another-issuer"), key),
    "no jti": lambda user, key: craft(
        {k: v for k, v in access_claims(user).items() if k != "jti"}, key
    ),
    "typ refresh": lambda user, key: craft(access_claims(user, typ="refresh"), key),
    "a user that does not exist": lambda user, key: craft(access_claims("usr_nobody"), key),
}


def test_a_well_formed_hand_crafted_token_is_accepted(
    api: TestClient, api_config: Settings, user_id: str
) -> None:
    # The control for the refusals below: the crafting itself makes tokens the server takes.
    assert api_config.secret_key
    token = craft(access_claims(user_id), api_config.secret_key)
    assert api.get(PROTECTED, headers=bearer(token)).status_code == 200
    assert api.get("/api/v1/auth/me", headers=bearer(token)).json()["id"] == user_id


@pytest.mark.parametrize("case", list(CRAFTED))
def test_a_bad_token_is_401_with_the_error_envelope(
    api: TestClient, api_config: Settings, user_id: str, case: str
) -> None:
    assert api_config.secret_key
    token = CRAFTED[case](user_id, api_config.secret_key)
    assert_unauthorized(api.get(PROTECTED, headers=bearer(token)))


def test_no_credential_or_garbage_is_401(api: TestClient) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        bearer("x.y.z"),
        {"X-API-Key": "pk_made_up"},
    ):
        assert_unauthorized(api.get(PROTECTED, headers=headers))


# --- access and refresh tokens --------------------------------------------------------------


def test_an_access_token_and_a_refresh_token_do_not_stand_in_for_each_other(
    api: TestClient, admin: Actor
) -> None:
    assert_unauthorized(api.get(PROTECTED, headers=bearer(admin.refresh_token)))
    assert_unauthorized(
        api.post("/api/v1/auth/refresh", json={"refresh_token": admin.access_token})
    )
    # Neither was spent by the attempts.
    assert api.get(PROTECTED, headers=admin.headers).status_code == 200
    refreshed = api.post("/api/v1/auth/refresh", json={"refresh_token": admin.refresh_token})
    assert refreshed.status_code == 200, refreshed.text


def test_refresh_rotates_and_a_reused_token_revokes_its_whole_family(
    api: TestClient, admin: Actor
) -> None:
    other_login = login(api, "root")  # another family: must survive the revocation
    first = api.post("/api/v1/auth/refresh", json={"refresh_token": admin.refresh_token})
    assert first.status_code == 200, first.text
    pair = first.json()
    assert pair["token_type"] == "bearer"
    assert pair["refresh_token"] != admin.refresh_token
    assert pair["access_token"] != admin.access_token
    assert pair["user"]["username"] == "root"
    assert api.get(PROTECTED, headers=bearer(pair["access_token"])).status_code == 200

    # The spent token again: refused, and it takes the token it was exchanged for with it.
    error = assert_unauthorized(
        api.post("/api/v1/auth/refresh", json={"refresh_token": admin.refresh_token})
    )
    assert "already used" in error["message"]
    assert_unauthorized(
        api.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    )

    again = api.post("/api/v1/auth/refresh", json={"refresh_token": other_login.refresh_token})
    assert again.status_code == 200, again.text


def test_logout_revokes_the_family(api: TestClient, admin: Actor) -> None:
    rotated = api.post("/api/v1/auth/refresh", json={"refresh_token": admin.refresh_token})
    latest = rotated.json()["refresh_token"]
    response = api.post("/api/v1/auth/logout", json={"refresh_token": latest})
    assert response.status_code == 204
    assert_unauthorized(api.post("/api/v1/auth/refresh", json={"refresh_token": latest}))
    assert_unauthorized(api.post("/api/v1/auth/logout", json={"refresh_token": "not-a-token"}))
    # The access tokens of the login are refused too (the first and the rotated one), while
    # another login of the same user goes on.
    other = login(api, "root")
    for token in (admin.access_token, rotated.json()["access_token"]):
        refused = api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert_unauthorized(refused)
        assert "logged out" in refused.json()["error"]["message"]
    assert other.get("/api/v1/auth/me").status_code == 200


# --- login and sign-up -----------------------------------------------------------------------


def test_login_by_username_or_email_gives_a_working_pair(api: TestClient, make_user: Any) -> None:
    make_user("bob")
    for identifier in ("bob", "bob@example.com", " Bob@Example.COM "):
        response = api.post(
            "/api/v1/auth/login", json={"identifier": identifier, "password": PASSWORD}
        )
        assert response.status_code == 200, (identifier, response.text)
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 15 * 60
        assert body["user"]["username"] == "bob"
        assert body["user"]["is_admin"] is False
        assert "password" not in response.text
        me = api.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
        assert me.json()["email"] == "bob@example.com"


def test_a_wrong_password_and_an_unknown_user_get_the_same_401(
    api: TestClient, admin: Actor
) -> None:
    wrong = api.post("/api/v1/auth/login", json={"identifier": "root", "password": "wrong-pass"})
    unknown = api.post("/api/v1/auth/login", json={"identifier": "nobody", "password": PASSWORD})
    # The same answer both times: no way to learn which usernames exist.
    assert assert_unauthorized(wrong) == assert_unauthorized(unknown)
    assert "access_token" not in wrong.text


def test_sign_up_is_closed_by_default(api: TestClient) -> None:
    signup = {"email": "eve@example.com", "username": "eve", "password": PASSWORD}
    assert_error(api.post("/api/v1/auth/signup", json=signup), 403, "forbidden")
    assert_unauthorized(
        api.post("/api/v1/auth/login", json={"identifier": "eve", "password": PASSWORD})
    )


def test_sign_up_when_allowed_creates_a_plain_user_and_logs_in(database_url: str) -> None:
    settings = api_settings(database_url, allow_signup=True)
    with TestClient(create_app(settings, workers=0)) as client:
        signup = {"email": "Eve@Example.com", "username": "eve", "password": PASSWORD}
        response = client.post("/api/v1/auth/signup", json=signup)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["user"]["email"] == "eve@example.com"
        assert body["user"]["is_admin"] is False
        assert client.get(PROTECTED, headers=bearer(body["access_token"])).status_code == 200
        assert_error(
            client.get("/api/v1/users", headers=bearer(body["access_token"])), 403, "forbidden"
        )

        assert_error(client.post("/api/v1/auth/signup", json=signup), 409, "conflict")
        admin_please = {**signup, "username": "eve2", "email": "e2@example.com", "is_admin": True}
        assert_error(client.post("/api/v1/auth/signup", json=admin_please), 422, "invalid_input")
        short = {**signup, "username": "eve3", "email": "e3@example.com", "password": "short"}
        assert_error(client.post("/api/v1/auth/signup", json=short), 422, "invalid_input")
        assert_unauthorized(
            client.post("/api/v1/auth/login", json={"identifier": "eve2", "password": PASSWORD})
        )


# --- platform administrators -----------------------------------------------------------------


def test_the_users_back_office_is_for_platform_admins(
    api: TestClient, admin: Actor, make_user: Any
) -> None:
    bob = make_user("bob")
    bob_id = bob.user["id"]
    new_user = {"email": "mallory@example.com", "username": "mallory", "password": PASSWORD}
    bad_name = admin.post("/api/v1/users", {**new_user, "username": "mal lory"})
    assert_error(bad_name, 422, "invalid_input")
    assert bad_name.json()["error"]["message"].startswith("body.username: String should match")
    for response in (
        bob.post("/api/v1/users", {**new_user, "is_admin": True}),
        bob.get("/api/v1/users"),
        bob.get(f"/api/v1/users/{admin.user['id']}"),
        bob.delete(f"/api/v1/users/{admin.user['id']}"),
    ):
        assert_error(response, 403, "forbidden")
    assert "root@example.com" not in bob.get("/api/v1/users").text

    # An API key is not an administrator either, whoever made it.
    app_id = admin.create_app("admins-app")
    key = admin.post(f"/api/v1/apps/{app_id}/api-keys", {"name": "ops", "role": "admin"})
    assert_error(
        api.get("/api/v1/users", headers={"X-API-Key": key.json()["key"]}), 403, "forbidden"
    )

    usernames = {u["username"] for u in admin.get("/api/v1/users").json()["items"]}
    assert usernames == {"root", "bob"}  # mallory was never created
    assert admin.get(f"/api/v1/users/{bob_id}").json()["username"] == "bob"

    own = admin.delete(f"/api/v1/users/{admin.user['id']}")
    assert_error(own, 409, "conflict")
    assert "cannot delete your own account" in own.json()["error"]["message"]
    assert admin.get(PROTECTED).status_code == 200

    assert admin.delete(f"/api/v1/users/{bob_id}").status_code == 204
    assert_error(admin.get(f"/api/v1/users/{bob_id}"), 404, "not_found")
    # A deleted user's tokens stop working at once.
    assert_unauthorized(bob.get(PROTECTED))
    assert_unauthorized(api.post("/api/v1/auth/refresh", json={"refresh_token": bob.refresh_token}))


def test_podium_users_create_admin_makes_an_admin_who_can_log_in(tmp_path: Path) -> None:
    db = tmp_path / "podium.db"
    args = ["users", "create-admin", "--email", "Ops@Example.com", "--username", "ops"]
    result = CliRunner().invoke(main, [*args, "--db", str(db)], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "created administrator ops" in result.output
    assert PASSWORD not in result.output

    again = CliRunner().invoke(main, [*args, "--password", PASSWORD, "--db", str(db)])
    assert again.exit_code != 0
    assert "already exists" in again.output
    assert "Traceback" not in again.output

    with TestClient(create_app(api_settings(sqlite_url(db)), workers=0)) as client:
        ops = login(client, "ops@example.com")
        assert ops.user["is_admin"] is True
        users = ops.get("/api/v1/users").json()["items"]
        assert [u["username"] for u in users] == ["ops"]
