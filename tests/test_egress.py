"""The egress policy against a real listener on loopback: refused by default (by address and
by a name that resolves to it), allowed when listed, a redirect to a refused address refused,
the address that was checked is the one connected to, the URL's host kept for Host."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from podium import egress
from podium.config import Settings
from podium.egress import EgressPolicy, EgressRefused, guarded_client, why_not_public
from support.listener import Listener, closed_port


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener(body="internal secret") as made:
        yield made


@pytest.fixture(autouse=True)
def reset_policy() -> Iterator[None]:
    yield
    egress.configure(None)


def allow(*entries: str) -> None:
    egress.configure(Settings(egress_allow=list(entries)))


async def get(url: str, **kwargs: Any) -> Any:
    async with guarded_client(follow_redirects=True, timeout=5, **kwargs) as client:
        return await client.get(url)


async def test_loopback_is_refused_by_default(listener: Listener) -> None:
    allow()
    with pytest.raises(EgressRefused) as caught:
        await get(f"http://127.0.0.1:{listener.port}/")
    assert caught.value.message == (
        "outbound request to 127.0.0.1 refused: loopback address; allow it with "
        "PODIUM_EGRESS_ALLOW=127.0.0.1"
    )
    assert caught.value.details == {"host": "127.0.0.1", "setting": "PODIUM_EGRESS_ALLOW"}
    assert listener.requests == []  # refused before any connection


async def test_a_closed_port_is_refused_with_the_same_words(listener: Listener) -> None:
    allow()
    messages = set()
    for target in (listener.port, closed_port()):
        with pytest.raises(EgressRefused) as caught:
            await get(f"http://127.0.0.1:{target}/")
        messages.add(caught.value.message)
    assert len(messages) == 1  # an open and a closed port cannot be told apart


async def test_a_name_that_resolves_to_loopback_is_refused(listener: Listener) -> None:
    allow()
    with pytest.raises(EgressRefused) as caught:
        await get(f"http://localhost:{listener.port}/")
    assert caught.value.message.startswith("outbound request to localhost (")
    assert caught.value.message.endswith(
        "refused: loopback address; allow it with PODIUM_EGRESS_ALLOW=localhost"
    )
    with pytest.raises(EgressRefused, match=r"to 127\.1 \(127\.0\.0\.1\) refused"):
        await get(f"http://127.1:{listener.port}/")  # a number the resolver reads as 127.0.0.1
    assert listener.requests == []


@pytest.mark.parametrize("entry", ["127.0.0.1", "127.0.0.0/8", "localhost"])
async def test_allowed_when_listed(listener: Listener, entry: str) -> None:
    allow("ollama.internal", entry)
    host = "localhost" if entry == "localhost" else "127.0.0.1"
    response = await get(f"http://{host}:{listener.port}/")
    assert (response.status_code, response.text) == (200, "internal secret")
    assert [r.host for r in listener.requests] == [f"{host}:{listener.port}"]  # the URL's


async def test_a_redirect_to_a_refused_address_is_refused(listener: Listener) -> None:
    allow("127.0.0.1")
    target = "http://169.254.169.254/latest/meta-data/"
    with pytest.raises(EgressRefused) as caught:
        await get(f"http://127.0.0.1:{listener.port}/redirect?to={target}")
    assert caught.value.message == (
        "outbound request to 169.254.169.254 refused: link-local address (this includes the "
        "cloud metadata endpoint); allow it with PODIUM_EGRESS_ALLOW=169.254.169.254"
    )
    assert len(listener.requests) == 1  # the first hop only


async def test_the_checked_address_is_the_one_connected_to(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a name that answers an allowed address once and the metadata address
    afterwards. The name is resolved once per connection, and the connection goes to the
    address that was checked."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("rebind.test", b"rebind.test"):
            asked.append("rebind.test")
            address = "127.0.0.1" if len(asked) == 1 else "169.254.169.254"
            return real(address, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    allow("127.0.0.1")
    response = await get(f"http://rebind.test:{listener.port}/")
    assert response.status_code == 200
    assert asked == ["rebind.test"]
    assert [r.host for r in listener.requests] == [f"rebind.test:{listener.port}"]


async def test_the_operators_own_urls_are_trusted(listener: Listener) -> None:
    url = f"http://127.0.0.1:{listener.port}/v1"
    egress.configure(Settings(ollama_base_url=url))
    assert (await get(f"{url}/models")).status_code == 200
    with pytest.raises(EgressRefused):  # the operator's origin only, not the whole host
        await get(f"http://127.0.0.1:{closed_port()}/")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback address"),
        ("::1", "loopback address"),
        ("10.1.2.3", "private address"),
        ("172.16.0.1", "private address"),
        ("192.168.1.1", "private address"),
        ("100.64.0.1", "private address"),
        ("fd00::1", "private address"),
        ("169.254.169.254", "link-local address (this includes the cloud metadata endpoint)"),
        ("fe80::1", "link-local address (this includes the cloud metadata endpoint)"),
        ("224.0.0.1", "multicast address"),
        ("ff02::1", "multicast address"),
        ("0.0.0.0", "unspecified address"),
        ("::", "unspecified address"),
        ("240.0.0.1", "reserved address"),
        ("255.255.255.255", "reserved address"),
        ("192.0.2.1", "private address"),
        ("::ffff:127.0.0.1", "loopback address inside an IPv6 address"),
        (
            "::ffff:169.254.169.254",
            "link-local address (this includes the cloud metadata endpoint) inside an IPv6 address",
        ),
        (
            "64:ff9b::a9fe:a9fe",
            "link-local address (this includes the cloud metadata endpoint) inside an IPv6 address",
        ),
        ("2002:7f00:1::1", "loopback address inside an IPv6 address"),
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
    ],
)
def test_which_addresses_are_not_public(address: str, reason: str | None) -> None:
    assert why_not_public(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/v1",
        "http://127.1/",
        "http://0x7f.1/",
        "http://[::1]:11434/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost:6379/",
        "http://db.localhost/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/",
    ],
)
def test_check_url_refuses_written_out_internal_hosts(url: str) -> None:
    with pytest.raises(EgressRefused) as caught:
        EgressPolicy.from_settings(Settings(egress_allow=[])).check_url(url, "base_url")
    assert caught.value.message.startswith("base_url: outbound request to ")
    assert "allow it with PODIUM_EGRESS_ALLOW=" in caught.value.message


def test_check_url_leaves_names_and_allowed_hosts() -> None:
    policy = EgressPolicy.from_settings(Settings(egress_allow=["127.0.0.1", "10.0.0.0/8"]))
    for url in (
        "https://api.example.com/v1",  # a name: resolved when a request is made
        "http://127.0.0.1:11434/v1",
        "http://10.0.0.5/",
        None,
        "not a url",
    ):
        policy.check_url(url, "base_url")
    everything = EgressPolicy.from_settings(Settings(egress_allow=["*"]))
    everything.check_url("http://169.254.169.254/", "base_url")


def test_the_default_ollama_url_is_the_providers() -> None:
    from podium.llm.providers import OLLAMA_BASE_URL

    assert egress.DEFAULT_OLLAMA_BASE_URL == OLLAMA_BASE_URL
    policy = EgressPolicy.from_settings(Settings(egress_allow=[]))
    policy.check_url(OLLAMA_BASE_URL, "base_url")  # the server's own Ollama: trusted
    with pytest.raises(EgressRefused):
        policy.check_url("http://localhost:11435/v1", "base_url")  # another port: not
