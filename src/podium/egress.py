"""The egress policy: where outbound HTTP requests that a tenant can aim may go.

Model providers, integrations, MCP servers over HTTP (and webhooks) are reached at URLs an app
chooses. Without a guard a tenant could aim them at the server's own network: loopback
services, the cloud metadata endpoint (169.254.169.254), private hosts. So every such client
is made by `guarded_client()`, whose transport resolves the host name itself, refuses the
request when any address it resolves to is not public (loopback, private, link-local,
multicast, reserved, unspecified, shared; IPv4, IPv6 and IPv4 inside IPv6), and then connects
to the very address it checked: a second DNS answer (rebinding) cannot switch it, and a
redirect opens a new connection that is checked the same way. TLS still names the URL's host
(SNI and certificate), and the Host header is the URL's.

The operator widens it with `PODIUM_EGRESS_ALLOW` (host names, addresses and CIDR networks,
e.g. `127.0.0.1,ollama.internal,10.0.0.0/8`). URLs the operator set themselves
(`PODIUM_OPENAI_BASE_URL`, `PODIUM_OLLAMA_BASE_URL`, `PODIUM_HUBSPOT_BASE_URL`, …) are trusted
as they are: their host and port pass without a check (so does the default Ollama URL,
`localhost:11434`, the server's own `ollama` provider). Tenant-aimed clients ignore the
`HTTP(S)_PROXY` variables: a proxy would resolve the name where the policy cannot see it.

The policy in force is the one `configure(settings)` last set (the agent runtime sets it from
its settings), else the one of the environment. It is read at every new connection.

(No maintained library fits httpx2 here: `advocate` wraps `requests`, others check a URL
before the request and so cannot stop rebinding or redirects. A network backend for the
connection pool is the one place that sees every connection, so the check lives there.)
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpcore2
import httpx2

from podium.config import Settings, get_settings
from podium.errors import NotAllowed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
SETTING = "PODIUM_EGRESS_ALLOW"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not the public internet
# The settings whose URLs the operator chose (trusted: their host and port pass unchecked).
_OPERATOR_URLS = (
    "openai_base_url",
    "anthropic_base_url",
    "ollama_base_url",
    "hubspot_base_url",
    "sendgrid_base_url",
    "google_calendar_base_url",
    # Provider presets and the image provider (podium.llm.providers, podium.llm.images).
    "openrouter_base_url",
    "mistral_base_url",
    "glm_base_url",
    "huggingface_base_url",
    "fireworks_base_url",
)
# The `ollama` provider's URL when PODIUM_OLLAMA_BASE_URL is unset (podium.llm.providers'
# OLLAMA_BASE_URL): the server's own default, trusted like a URL the operator set.
DEFAULT_OLLAMA_BASE_URL = "http://localhost:11434/v1"


class EgressRefused(NotAllowed):
    """An outbound request to an address the egress policy does not allow (answered 422
    when it is refused at registration)."""

    code = "egress_refused"


def why_not_public(address: IPAddress) -> str | None:
    """Why an address is not a public one ("loopback address", …), or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None:
            reason = why_not_public(embedded)
            return f"{reason} inside an IPv6 address" if reason else None
    if address.is_unspecified:
        return "unspecified address"
    if address.is_loopback:
        return "loopback address"
    if address.is_link_local:
        return "link-local address (this includes the cloud metadata endpoint)"
    if address.is_multicast:
        return "multicast address"
    if address.is_reserved:
        return "reserved address"
    if address.is_private or (isinstance(address, ipaddress.IPv4Address) and address in _SHARED):
        return "private address"
    if not address.is_global:
        return "reserved address"
    return None


@dataclass(frozen=True)
class EgressPolicy:
    """Which non-public destinations are allowed: `hosts` by name, `networks` by address,
    `origins` (host, port) the operator configured. `unrestricted` allows everything."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()
    origins: frozenset[tuple[str, int]] = frozenset()
    unrestricted: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> EgressPolicy:
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in settings.egress_allow:
            entry = entry.strip().lower()
            if entry == "*":
                return cls(unrestricted=True)
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.rstrip("."))
        origins = set()
        urls = [getattr(settings, name, None) for name in _OPERATOR_URLS]
        for url in [*urls, settings.ollama_base_url or DEFAULT_OLLAMA_BASE_URL]:
            origin = _origin(url)
            if origin is not None:
                origins.add(origin)
        return cls(frozenset(hosts), tuple(networks), frozenset(origins))

    def refusal(self, host: str, port: int, address: IPAddress) -> EgressRefused | None:
        """Why a connection to `address` (resolved from `host`) is refused, or None."""
        name = host.lower().strip("[]").rstrip(".")
        if self.unrestricted or name in self.hosts or (name, port) in self.origins:
            return None
        reason = why_not_public(address)
        if reason is None or any(address in network for network in self.networks):
            return None
        shown = name if name == str(address) else f"{name} ({address})"
        return EgressRefused(
            f"outbound request to {shown} refused: {reason}; allow it with {SETTING}={name}",
            details={"host": name, "setting": SETTING},
        )

    def check_url(self, url: str | None, what: str) -> None:
        """Refuse a URL whose host is a non-public address written out (`127.0.0.1`, `127.1`,
        `[::1]`) or `localhost`, before it is stored. Names are resolved only when a request
        is made (here that would cost a DNS query, and the answer may change anyway)."""
        if not url:
            return
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError:
            return  # the URL's own validation says what is wrong with it
        if not host:
            return
        port = port or (443 if parts.scheme == "https" else 80)
        name = host.rstrip(".")
        addresses = _numeric_addresses(name)
        if not addresses and (name == "localhost" or name.endswith(".localhost")):
            addresses = [ipaddress.ip_address("127.0.0.1")]
        for address in addresses:
            refused = self.refusal(name, port, address)
            if refused is not None:
                refused.message = f"{what}: {refused.message}"
                raise refused


def _origin(url: str | None) -> tuple[str, int] | None:
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname.lower().rstrip("."), port


def _numeric_addresses(host: str) -> list[IPAddress]:
    """The address a host written as a number stands for (all the forms the resolver takes:
    `127.0.0.1`, `127.1`, `0x7f.1`, `::1`), else none: no DNS query is made."""
    try:
        infos = socket.getaddrinfo(
            host.strip("[]"), None, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
        )
    except (OSError, UnicodeError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


_CONFIGURED: EgressPolicy | None = None


def configure(settings: Settings | None) -> None:
    """Make the policy of these settings the one in force (None: the environment's)."""
    global _CONFIGURED
    _CONFIGURED = EgressPolicy.from_settings(settings) if settings is not None else None


def current_policy() -> EgressPolicy:
    """The policy in force: the configured one, else the environment's."""
    return _CONFIGURED if _CONFIGURED is not None else EgressPolicy.from_settings(get_settings())


def check_url(url: str | None, what: str) -> None:
    """`EgressPolicy.check_url` with the policy in force (`what` names the field)."""
    current_policy().check_url(url, what)


# --- the transport ------------------------------------------------------------------------


class GuardedBackend(httpcore2.AsyncNetworkBackend):
    """Opens connections only to addresses the policy allows, to the address it checked."""

    def __init__(self, policy: EgressPolicy | None = None) -> None:
        self._policy = policy
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        policy = self._policy or current_policy()
        addresses = await _resolve(host, port, timeout)
        for address in addresses:  # any refused address refuses the name (no mixed answers)
            refused = policy.refusal(host, port, address)
            if refused is not None:
                raise refused
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise EgressRefused("outbound requests over Unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def _resolve(host: str, port: int, timeout: float | None) -> list[IPAddress]:
    try:
        with anyio.fail_after(timeout):
            infos = await anyio.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise httpcore2.ConnectTimeout(f"resolving {host} timed out") from None
    except OSError as exc:
        raise httpcore2.ConnectError(f"{host} could not be resolved") from exc
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in found:
            found.append(address)
    if not found:
        raise httpcore2.ConnectError(f"{host} could not be resolved")
    return found


class GuardedTransport(httpx2.AsyncHTTPTransport):
    """httpx2's transport over a `GuardedBackend` (and never through an environment proxy,
    which would resolve the name where the policy cannot see it)."""

    def __init__(self, policy: EgressPolicy | None = None, **kwargs: Any) -> None:
        limits: httpx2.Limits = kwargs.pop("limits", httpx2.Limits())
        # SSL_CERT_FILE / SSL_CERT_DIR still apply (an operator's CA bundle); proxies do not.
        ssl_context = httpx2.create_ssl_context(trust_env=True)
        kwargs.update(trust_env=False, verify=ssl_context)
        super().__init__(limits=limits, **kwargs)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=kwargs.get("http1", True),
            http2=kwargs.get("http2", False),
            network_backend=GuardedBackend(policy),
        )


def guarded_client(policy: EgressPolicy | None = None, **kwargs: Any) -> httpx2.AsyncClient:
    """An `httpx2.AsyncClient` whose every connection passes the egress policy (the one in
    force at connection time, unless `policy` is given). For any request a tenant can aim:
    providers, integrations, MCP over HTTP, webhooks."""
    return httpx2.AsyncClient(transport=GuardedTransport(policy), trust_env=False, **kwargs)


def reason_phrase(status: int | None) -> str:
    """The standard reason phrase of a status (`Not Found`), never the server's words."""
    try:
        return HTTPStatus(status).phrase if status is not None else "an error answer"
    except ValueError:
        return "an error answer"


def status_line(status: int | None) -> str:
    """The short line an error answer is reported by: `HTTP 404 Not Found`."""
    return f"HTTP {status} {reason_phrase(status)}" if status is not None else "an error answer"


def refusal_in(exc: BaseException | None) -> EgressRefused | None:
    """The `EgressRefused` an error was caused by (SDKs wrap it), or None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, EgressRefused):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                found = refusal_in(inner)
                if found is not None:
                    return found
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
