"""JWTs: HS256 only, every registered claim required and checked, access ≠ refresh."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from podium.auth.tokens import REQUIRED, TokenCodec
from podium.errors import Unauthorized

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
CODEC = TokenCodec(SECRET, "podium", "podium-api")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def craft(claims: dict[str, Any], *, alg: str = "HS256", key: str = SECRET) -> str:
    """A token put together by hand, as an attacker would: header.payload.signature."""
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    digests = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
    if alg == "none":
        signature = ""
    else:
        signature = b64url(hmac.new(key.encode(), signing_input, digests[alg]).digest())
    return f"{header}.{payload}.{signature}"


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "iss": "podium",
        "aud": "podium-api",
        "sub": "usr_1",
        "iat": now,
        "exp": now + 600,
        "jti": "rtk_1",
        "typ": "access",
    }
    values.update(changes)
    return values


def test_a_token_decodes_to_its_claims() -> None:
    token, expires = CODEC.encode("refresh", "usr_1", "rtk_9", 3600, fam="fam_1")
    decoded = CODEC.decode(token, "refresh")
    assert set(REQUIRED) <= set(decoded)
    assert decoded["sub"] == "usr_1"
    assert decoded["jti"] == "rtk_9"
    assert decoded["typ"] == "refresh"
    assert decoded["fam"] == "fam_1"
    assert decoded["exp"] == expires
    assert abs(expires - (time.time() + 3600)) < 5


def test_a_hand_crafted_hs256_token_with_every_claim_is_accepted() -> None:
    # The control for the refusals below: the crafting itself makes valid tokens.
    assert CODEC.decode(craft(claims()), "access")["sub"] == "usr_1"


@pytest.mark.parametrize("alg", ["none", "HS384", "HS512"])
def test_a_token_of_another_algorithm_is_refused(alg: str) -> None:
    with pytest.raises(Unauthorized):
        CODEC.decode(craft(claims(), alg=alg), "access")


def test_a_token_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(Unauthorized, match="not valid"):
        CODEC.decode(craft(claims(), key="another-secret-that-is-also-long-enough!!"), "access")


def test_a_token_whose_payload_was_changed_is_refused() -> None:
    header, _, signature = CODEC.encode("access", "usr_1", "rtk_1", 600)[0].split(".")
    forged = b64url(json.dumps(claims(sub="usr_admin")).encode())
    with pytest.raises(Unauthorized):
        CODEC.decode(f"{header}.{forged}.{signature}", "access")


def test_an_expired_token_is_refused_and_says_so() -> None:
    token, _ = CODEC.encode("access", "usr_1", "rtk_1", -10)
    with pytest.raises(Unauthorized, match="expired"):
        CODEC.decode(token, "access")


@pytest.mark.parametrize(
    ("codec", "what"),
    [
        (TokenCodec(SECRET, "podium", "another-audience"), "audience"),
        (TokenCodec(SECRET, "another-issuer", "podium-api"), "issuer"),
    ],
)
def test_a_token_for_another_audience_or_issuer_is_refused(codec: TokenCodec, what: str) -> None:
    token, _ = codec.encode("access", "usr_1", "rtk_1", 600)
    with pytest.raises(Unauthorized):
        CODEC.decode(token, "access")


@pytest.mark.parametrize("missing", REQUIRED)
def test_a_token_missing_a_required_claim_is_refused(missing: str) -> None:
    incomplete = claims()
    del incomplete[missing]
    with pytest.raises(Unauthorized):
        CODEC.decode(craft(incomplete), "access")


def test_an_access_token_is_not_a_refresh_token_and_back() -> None:
    access, _ = CODEC.encode("access", "usr_1", "rtk_1", 600)
    refresh, _ = CODEC.encode("refresh", "usr_1", "rtk_2", 600)
    with pytest.raises(Unauthorized, match="send the refresh token"):
        CODEC.decode(access, "refresh")
    with pytest.raises(Unauthorized, match="send the access token"):
        CODEC.decode(refresh, "access")


def test_a_token_with_an_unknown_typ_is_refused() -> None:
    with pytest.raises(Unauthorized):
        CODEC.decode(craft(claims(typ="admin")), "access")


@pytest.mark.parametrize("garbage", ["", "not-a-jwt", "a.b.c", "e30.e30."])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(Unauthorized):
        CODEC.decode(garbage, "access")
