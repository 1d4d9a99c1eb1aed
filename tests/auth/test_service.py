"""AuthService: a verified access token is remembered, but never past its expiry."""

from __future__ import annotations

import asyncio
import time

import pytest
from tests.conftest import fast_settings

from podium.auth.service import AuthService
from podium.errors import Unauthorized
from podium.storage.store import Store

PASSWORD = "correct horse battery"


async def test_a_remembered_access_token_is_refused_once_it_expires(store: Store) -> None:
    auth = AuthService(store, fast_settings(secret_key="k" * 40, access_token_minutes=1 / 60))
    await auth.open()
    await auth.create_user("ada@example.com", "ada", PASSWORD)
    pair = await auth.login("ada", PASSWORD)
    claims = auth.access_claims(pair.access_token)
    assert auth.access_claims(pair.access_token) is claims  # the second use is remembered

    await asyncio.sleep(max(claims["exp"] - time.time(), 0) + 1.05)  # a 1-second token
    with pytest.raises(Unauthorized, match="expired"):
        auth.access_claims(pair.access_token)


async def test_a_refresh_token_is_never_remembered_as_an_access_token(store: Store) -> None:
    auth = AuthService(store, fast_settings(secret_key="k" * 40))
    await auth.open()
    await auth.create_user("bo@example.com", "bo", PASSWORD)
    pair = await auth.login("bo", PASSWORD)
    for _ in range(2):
        with pytest.raises(Unauthorized, match="typ"):
            auth.access_claims(pair.refresh_token)
