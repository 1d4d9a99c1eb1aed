"""Finding 10, passwords: `12345678` was accepted. Signing up, an administrator creating a
user and changing a password now refuse common and guessable passwords (zxcvbn), with a
message that says why and names PODIUM_PASSWORD_MIN_SCORE, and store nothing."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.live import PASSWORD, LiveServer
from tests.security.conftest import Tenant, security_env

WEAK = ["12345678", "password1", "qwertyuiop", "iloveyou", "mallory123"]


@pytest.fixture
def live_env() -> dict[str, str]:
    return security_env(PODIUM_ALLOW_SIGNUP="true")


def usernames(live: LiveServer, admin_token: str) -> list[str]:
    return [u["username"] for u in live.call("GET", "/users", None, admin_token)["items"]]


@pytest.mark.parametrize("weak", WEAK)
def test_a_common_password_is_refused_at_signup_and_by_admins(
    live: LiveServer, admin_token: str, weak: str
) -> None:
    user = {"email": "mallory@example.com", "username": "mallory", "password": weak}
    for path, token in (("/auth/signup", None), ("/users", admin_token)):
        status, body = live.request("POST", path, user, token)
        assert status == 400, (path, body)
        error = body["error"]
        assert error["code"] == "invalid_input" and error["details"]["field"] == "password"
        assert error["message"].startswith("this password is too weak: ")
        assert "PODIUM_PASSWORD_MIN_SCORE" in error["message"]
    assert usernames(live, admin_token) == ["admin"]
    status, _ = live.request("POST", "/auth/login", {"identifier": "mallory", "password": weak})
    assert status == 401


def test_a_passphrase_is_accepted(live: LiveServer, admin_token: str) -> None:
    user = {"email": "ada@example.com", "username": "ada", "password": "violet tractor harbor"}
    status, body = live.request("POST", "/auth/signup", user)
    assert status == 201, body
    assert usernames(live, admin_token) == ["admin", "ada"]


def test_a_password_change_refuses_a_weak_one_and_revokes_every_login(
    live: LiveServer, make_tenant: Any
) -> None:
    mallory: Tenant = make_tenant("mallory")
    change = {"current_password": PASSWORD, "new_password": "12345678"}
    status, body = mallory.request("POST", "/auth/password", change)
    assert status == 400 and "too weak" in body["error"]["message"]
    wrong = {"current_password": "not it", "new_password": "violet tractor harbor"}
    status, body = mallory.request("POST", "/auth/password", wrong)
    assert status == 401 and body["error"]["message"] == "the current password is wrong"
    # Neither changed anything: the old password still logs in, the token still works.
    assert mallory.request("GET", "/auth/me")[0] == 200
    login = {"identifier": "mallory", "password": PASSWORD}
    assert live.request("POST", "/auth/login", login)[0] == 200

    good = {"current_password": PASSWORD, "new_password": "violet tractor harbor"}
    assert mallory.request("POST", "/auth/password", good)[0] == 204
    assert mallory.request("GET", "/auth/me")[0] == 401  # every login of the user ends
    assert live.request("POST", "/auth/login", login)[0] == 401
    login["password"] = "violet tractor harbor"
    assert live.request("POST", "/auth/login", login)[0] == 200
