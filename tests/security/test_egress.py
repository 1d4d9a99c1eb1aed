"""Finding 2: SSRF with the answer reflected.

Mallory points a provider's `base_url`, an integration's `base_url` and an MCP server's URL at
the server's own network (a loopback service standing for it here, and the cloud metadata
address) and reads the target's answer back through `/agents/health`, tool results and error
messages. Now every such URL passes the egress policy: written-out internal addresses are
refused when stored (422, nothing stored, nothing sent); a name or a redirect that leads
inside is refused when the request is made; an answer's body never comes back, only its status
line; an open and a closed port read the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.security.conftest import Tenant, security_env

from support.listener import Listener, closed_port

SECRET_BODY = "internal-service-secret-body"
METADATA = "http://169.254.169.254/latest/meta-data/"


@pytest.fixture
def target() -> Iterator[Listener]:
    with Listener(status=401, body=SECRET_BODY) as listener:
        yield listener


def aims(url: str) -> list[tuple[str, str, dict[str, Any], str]]:
    """(method, path, body, what) of each way to aim the server at `url`."""
    return [
        (
            "PUT",
            "/apps/{app}/providers/inside",
            {"kind": "openai", "base_url": f"{url}/v1"},
            "provider 'inside' base_url",
        ),
        (
            "PUT",
            "/apps/{app}/integrations/hubspot",
            {"access_token": "t", "base_url": url},
            "hubspot base_url",
        ),
        (
            "POST",
            "/apps/{app}/mcp-servers",
            {"name": "inside", "transport": "http", "url": f"{url}/mcp"},
            "MCP server 'inside' url",
        ),
    ]


def nothing_stored(mallory: Tenant) -> None:
    assert mallory.call("GET", "/apps/{app}/providers") == []
    assert mallory.call("GET", "/apps/{app}/mcp-servers") == []
    integrations = mallory.call("GET", "/apps/{app}/integrations")
    assert [i["configured"] for i in integrations] == [False, False, False]


def test_internal_addresses_are_refused_when_stored(make_tenant: Any, target: Listener) -> None:
    mallory: Tenant = make_tenant("mallory")
    for url, host, reason in (
        (target.url, "127.0.0.1", "loopback address"),
        (f"http://127.1:{target.port}", "127.1", "loopback address"),
        (f"http://localhost:{target.port}", "localhost", "loopback address"),
        (
            f"http://[::ffff:127.0.0.1]:{target.port}",
            "::ffff:127.0.0.1",
            "loopback address inside an IPv6 address",
        ),
        (
            "http://169.254.169.254",
            "169.254.169.254",
            "link-local address (this includes the cloud metadata endpoint)",
        ),
        ("http://10.0.0.1", "10.0.0.1", "private address"),
    ):
        for method, path, body, what in aims(url):
            status, answer = mallory.request(method, path, body)
            assert status == 422, (path, url, answer)
            assert answer["error"]["code"] == "egress_refused"
            message = answer["error"]["message"]
            assert message.startswith(f"{what}: outbound request to {host}"), message
            assert message.endswith(f"refused: {reason}; allow it with PODIUM_EGRESS_ALLOW={host}")
            assert answer["error"]["details"]["setting"] == "PODIUM_EGRESS_ALLOW"
    nothing_stored(mallory)
    assert target.requests == []


def test_an_open_and_a_closed_port_read_the_same(make_tenant: Any, target: Listener) -> None:
    mallory: Tenant = make_tenant("mallory")
    answers = []
    for port in (target.port, closed_port()):
        body = {"kind": "openai", "base_url": f"http://127.0.0.1:{port}/v1"}
        answers.append(mallory.request("PUT", "/apps/{app}/providers/probe", body))
    assert answers[0] == answers[1]
    assert answers[0][0] == 422
    nothing_stored(mallory)


class TestLoopbackAllowed:
    """The operator allows 127.0.0.1 (a local Ollama, say): the service there may be reached,
    yet its answer's body never comes back, and a redirect out of it is checked again."""

    @pytest.fixture
    def live_env(self) -> dict[str, str]:
        return security_env(PODIUM_EGRESS_ALLOW="127.0.0.1")

    def test_an_answers_body_is_never_reflected(self, make_tenant: Any, target: Listener) -> None:
        mallory: Tenant = make_tenant("mallory")
        mallory.call(
            "PUT",
            "/apps/{app}/providers/inside",
            {"kind": "openai", "base_url": f"{target.url}/v1", "api_key": "k"},
        )
        mallory.call(
            "PUT", "/apps/{app}/integrations/hubspot", {"access_token": "t", "base_url": target.url}
        )

        health = mallory.call("GET", "/apps/{app}/agents/health")
        provider = next(p for p in health["providers"] if p["name"] == "inside")
        assert provider == {
            "name": "inside",
            "kind": "openai",
            "source": "app",
            "reachable": False,
            "detail": "HTTP 401: Unauthorized",
        }
        hubspot = next(i for i in health["integrations"] if i["service"] == "hubspot")
        assert hubspot == {
            "service": "hubspot",
            "status": "error",
            "detail": "hubspot answered HTTP 401 Unauthorized",
        }
        assert SECRET_BODY not in str(health)
        assert {r.path for r in target.requests} == {
            "/v1/models",
            "/crm/v3/objects/contacts?limit=1",
        }

    def test_a_redirect_inside_is_refused(self, make_tenant: Any) -> None:
        mallory: Tenant = make_tenant("mallory")
        with Listener(redirect_to=METADATA) as hop:
            mallory.call(
                "PUT", "/apps/{app}/providers/hop", {"kind": "openai", "base_url": f"{hop.url}/v1"}
            )
            mallory.call(
                "PUT",
                "/apps/{app}/integrations/hubspot",
                {"access_token": "t", "base_url": hop.url},
            )
            status, answer = mallory.request(
                "POST",
                "/apps/{app}/mcp-servers",
                {"name": "hop", "transport": "http", "url": f"{hop.url}/mcp"},
            )
            assert status == 201, answer

            health = mallory.call("GET", "/apps/{app}/agents/health")

        refusal = (
            "outbound request to 169.254.169.254 refused: link-local address (this includes "
            "the cloud metadata endpoint); allow it with PODIUM_EGRESS_ALLOW=169.254.169.254"
        )
        provider = next(p for p in health["providers"] if p["name"] == "hop")
        assert (provider["reachable"], provider["detail"]) == (False, refusal)
        hubspot = next(i for i in health["integrations"] if i["service"] == "hubspot")
        # Integrations do not follow redirects at all (the services' APIs never redirect).
        assert hubspot["detail"] == "hubspot answered HTTP 302"
        [mcp] = health["mcp_servers"]
        assert mcp["reachable"] is False
        # The MCP client does not follow the redirect either: a stable message.
        assert mcp["detail"] == (
            f"could not connect to MCP server 'hop' at {hop.url}/mcp: no MCP session could be "
            "held with it (the server's log says why)"
        )

    def test_another_loopback_address_is_still_refused(
        self, make_tenant: Any, target: Listener
    ) -> None:
        mallory: Tenant = make_tenant("mallory")
        status, answer = mallory.request(
            "PUT",
            "/apps/{app}/providers/other",
            {"kind": "openai", "base_url": f"http://127.0.0.2:{target.port}/v1"},
        )
        assert status == 422, answer
        assert answer["error"]["message"].endswith("PODIUM_EGRESS_ALLOW=127.0.0.2")
        nothing_stored(mallory)
