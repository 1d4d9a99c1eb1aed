"""Finding 3: a stored provider key sent to a new URL.

An app admin (or an admin API key) configures a provider with a key, then changes only its
`base_url` to a host they control; the stored key used to go there. Now a key follows its URL:
changing the base URL or the kind without a key in the same request drops the stored key, so
the new host never sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.api.live import LiveServer
from tests.security.conftest import Tenant, security_env

from support.listener import Listener

KEY = "sk-victim-provider-key-0123456789"


@pytest.fixture
def live_env() -> dict[str, str]:
    return security_env(PODIUM_EGRESS_ALLOW="127.0.0.1")  # both hosts are loopback listeners


@pytest.fixture
def hosts() -> Iterator[tuple[Listener, Listener]]:
    with Listener(status=401, body="no") as real, Listener(status=401, body="no") as thief:
        yield real, thief


def provider(base_url: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "openai", "base_url": f"{base_url}/v1", **extra}


def test_a_new_base_url_without_a_key_drops_the_key(
    make_tenant: Any, hosts: tuple[Listener, Listener]
) -> None:
    real, thief = hosts
    mallory: Tenant = make_tenant("mallory")
    mallory.call("PUT", "/apps/{app}/providers/acme", provider(real.url, api_key=KEY))
    mallory.call("GET", "/apps/{app}/agents/health")
    assert [r.authorization for r in real.requests] == [f"Bearer {KEY}"]

    moved = mallory.call("PUT", "/apps/{app}/providers/acme", provider(thief.url))

    assert moved["has_api_key"] is False
    assert mallory.call("GET", "/apps/{app}/providers/acme")["has_api_key"] is False
    mallory.call("GET", "/apps/{app}/agents/health")
    assert thief.requests, "the health check reaches the new URL"
    assert all(KEY not in (r.authorization or "") for r in thief.requests)
    # Moving back does not bring the key back: it is gone.
    back = mallory.call("PUT", "/apps/{app}/providers/acme", provider(real.url))
    assert back["has_api_key"] is False


def test_an_admin_api_key_cannot_move_the_key_either(
    make_tenant: Any, live: LiveServer, hosts: tuple[Listener, Listener]
) -> None:
    real, thief = hosts
    owner: Tenant = make_tenant("owner")
    owner.call("PUT", "/apps/{app}/providers/acme", provider(real.url, api_key=KEY))
    key = owner.call("POST", "/apps/{app}/api-keys", {"name": "ci", "role": "admin"})["key"]
    headers = {"X-API-Key": key}
    path = f"/apps/{owner.app_id}/providers/acme"

    status, moved = live.request("PUT", path, provider(thief.url), headers=headers)
    assert status == 200, moved
    assert moved["has_api_key"] is False
    live.request("GET", f"/apps/{owner.app_id}/agents/health", headers=headers)
    assert thief.requests and all(KEY not in (r.authorization or "") for r in thief.requests)


def test_a_new_kind_without_a_key_drops_it_and_a_key_in_the_same_request_is_kept(
    make_tenant: Any, hosts: tuple[Listener, Listener]
) -> None:
    real, _ = hosts
    mallory: Tenant = make_tenant("mallory")
    mallory.call("PUT", "/apps/{app}/providers/acme", provider(real.url, api_key=KEY))
    same = mallory.call("PUT", "/apps/{app}/providers/acme", provider(real.url, max_retries=1))
    assert same["has_api_key"] is True  # same URL and kind: the key stays

    kind = {"kind": "anthropic", "base_url": real.url}
    assert mallory.call("PUT", "/apps/{app}/providers/acme", kind)["has_api_key"] is False

    with_key = provider(real.url, api_key="sk-new-key")
    assert mallory.call("PUT", "/apps/{app}/providers/acme", with_key)["has_api_key"] is True
    real.requests.clear()
    mallory.call("GET", "/apps/{app}/agents/health")
    assert [r.authorization for r in real.requests] == ["Bearer sk-new-key"]
