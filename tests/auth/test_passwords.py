"""Passwords: Argon2id, salted, and a missing user costs the time of a real check."""

from __future__ import annotations

import time

import pytest

from podium.auth.passwords import hash_password, verify_password


def test_the_right_password_verifies_and_a_wrong_one_does_not() -> None:
    hashed = hash_password("correct horse battery")
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "correct horse batterY")
    assert not verify_password(hashed, "")


def test_hashes_are_argon2id_salted_and_never_the_password() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first.startswith("$argon2id$")
    assert first != second  # a fresh salt each time
    assert "correct horse battery" not in first


@pytest.mark.parametrize("stored", [None, "", "not-a-hash", "$argon2id$v=19$broken"])
def test_no_usable_hash_never_verifies(stored: str | None) -> None:
    assert not verify_password(stored, "correct horse battery")
    # Not even the password of the stand-in hash used for unknown users.
    assert not verify_password(stored, "podium-no-such-user")


def _seconds(check: object, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        check()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return sorted(times)[runs // 2]


def test_an_unknown_user_costs_about_the_time_of_a_wrong_password() -> None:
    # Otherwise the answer time tells an attacker which emails have accounts.
    hashed = hash_password("correct horse battery")
    known = _seconds(lambda: verify_password(hashed, "wrong password"))
    unknown = _seconds(lambda: verify_password(None, "wrong password"))
    assert unknown > known / 4
