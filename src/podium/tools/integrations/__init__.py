"""Integrations as tools: HubSpot (CRM), SendGrid (email) and Google Calendar, over HTTP.

Every tool is registered in `DEFAULT` with the tags `("integration", <service>, <domain>)`,
so an agent selects a domain with `tools_for("crm")` (or a service, `tools_for("hubspot")`).
A tool asks its context for the app's credentials (`await ctx.credentials(service)`); when
there are none, or the required secret is missing, it is skipped with "<service> not
configured". A failing call becomes an error the model reads, naming the service and the HTTP
status line (the service's own words are logged, not returned). Every call passes the egress
policy (`podium.egress`).

Credentials, per service (`base_url`, and `calendar_id`, may be omitted: `with_defaults`
fills the real endpoints):

    hubspot          {"access_token", "base_url"}
    sendgrid         {"api_key", "from_email", "base_url"}
    google_calendar  {"access_token", "calendar_id", "base_url"}

`settings_credentials(service, settings)` gives the server-wide credentials (the
`PODIUM_HUBSPOT_ACCESS_TOKEN`, `PODIUM_SENDGRID_API_KEY`, … settings); `probe(service,
credentials)` checks them with a cheap authenticated GET.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import httpx2

from podium.egress import guarded_client, refusal_in, status_line
from podium.tools.base import Tool, ToolContext, ToolRegistry, ToolSkipped

if TYPE_CHECKING:
    from podium.config import Settings

SERVICES = ("hubspot", "sendgrid", "google_calendar")
DOMAINS: dict[str, str] = {"hubspot": "crm", "sendgrid": "email", "google_calendar": "calendar"}
# Every field a service's credentials may hold, and those a call cannot do without.
FIELDS: dict[str, tuple[str, ...]] = {
    "hubspot": ("access_token", "base_url"),
    "sendgrid": ("api_key", "from_email", "base_url"),
    "google_calendar": ("access_token", "calendar_id", "base_url"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "hubspot": ("access_token",),
    "sendgrid": ("api_key", "from_email"),
    "google_calendar": ("access_token",),
}
# The secret that makes a service configured at all (what `probe` needs).
SECRETS: dict[str, str] = {
    "hubspot": "access_token",
    "sendgrid": "api_key",
    "google_calendar": "access_token",
}
DEFAULTS: dict[str, dict[str, str]] = {
    "hubspot": {"base_url": "https://api.hubapi.com"},
    "sendgrid": {"base_url": "https://api.sendgrid.com"},
    "google_calendar": {
        "base_url": "https://www.googleapis.com/calendar/v3",
        "calendar_id": "primary",
    },
}
CALL_TIMEOUT_SECONDS = 20.0
PROBE_TIMEOUT_SECONDS = 5.0
MAX_LOGGED = 500  # characters of an error answer's body that are logged
logger = logging.getLogger(__name__)
ProbeStatus = Literal["ok", "not_configured", "error"]


class IntegrationError(Exception):
    """A service refused a call, or could not be reached."""

    def __init__(self, service: str, message: str, status: int | None = None) -> None:
        self.service = service
        self.status = status
        self.detail = message
        if status is None:
            super().__init__(f"{service}: {message}")
        else:
            super().__init__(f"{service} answered {message}")


def _known(service: str) -> None:
    if service not in SERVICES:
        raise ValueError(f"unknown integration {service!r}; known: {', '.join(SERVICES)}")


def with_defaults(service: str, credentials: dict[str, Any]) -> dict[str, Any]:
    """The credentials with the defaults filled in where missing or empty (base_url, the
    calendar id), and the base URL without a trailing slash."""
    _known(service)
    filled = dict(credentials)
    for key, value in DEFAULTS[service].items():
        if not filled.get(key):
            filled[key] = value
    filled["base_url"] = str(filled["base_url"]).rstrip("/")
    return filled


def missing_fields(service: str, credentials: dict[str, Any] | None) -> list[str]:
    """The required fields the credentials lack (all of them when there are none)."""
    _known(service)
    if credentials is None:
        return list(REQUIRED[service])
    return [key for key in REQUIRED[service] if not credentials.get(key)]


def settings_credentials(service: str, settings: Settings) -> dict[str, Any] | None:
    """The server-wide credentials of a service, or None when its secret is unset."""
    _known(service)
    credentials: dict[str, Any]
    if service == "hubspot":
        if not settings.hubspot_access_token:
            return None
        credentials = {
            "access_token": settings.hubspot_access_token,
            "base_url": settings.hubspot_base_url,
        }
    elif service == "sendgrid":
        if not settings.sendgrid_api_key:
            return None
        credentials = {
            "api_key": settings.sendgrid_api_key,
            "from_email": settings.sendgrid_from_email,
            "base_url": settings.sendgrid_base_url,
        }
    else:
        if not settings.google_calendar_access_token:
            return None
        credentials = {
            "access_token": settings.google_calendar_access_token,
            "calendar_id": settings.google_calendar_id,
            "base_url": settings.google_calendar_base_url,
        }
    return with_defaults(service, credentials)


async def require_credentials(ctx: ToolContext, service: str) -> dict[str, Any]:
    """The call's credentials for a service (defaults filled), or ToolSkipped."""
    credentials = await ctx.credentials(service)
    if missing_fields(service, credentials):
        raise ToolSkipped(f"{service} not configured")
    assert credentials is not None
    return with_defaults(service, credentials)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def error_message(service: str, response: httpx2.Response) -> str:
    """The answer's status line (`HTTP 401 Unauthorized`). The service's own words are
    logged, never returned: the base URL may be a tenant's, and a body must not come back
    through Podium."""
    logger.info(
        "%s answered HTTP %s: %s", service, response.status_code, response.text[:MAX_LOGGED]
    )
    return status_line(response.status_code)


async def send(
    service: str,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    json_body: Any = None,
    params: dict[str, str | int] | None = None,
    timeout: float = CALL_TIMEOUT_SECONDS,
) -> httpx2.Response:
    """One HTTP call to a service, through the egress policy; IntegrationError when it is
    refused, fails or answers an error."""
    try:
        async with guarded_client(timeout=timeout) as client:
            response = await client.request(
                method, url, headers=headers, json=json_body, params=params
            )
    except httpx2.TimeoutException:
        raise IntegrationError(service, f"no answer within {timeout:g}s") from None
    except Exception as exc:
        refused = refusal_in(exc)
        if refused is not None:
            raise IntegrationError(service, refused.message) from None
        if not isinstance(exc, httpx2.HTTPError):
            raise
        # One message whatever the reason: which ports are open must not be told apart.
        logger.info("%s could not be reached at %s: %r", service, url, exc)
        raise IntegrationError(service, "could not be reached") from None
    if response.status_code >= 400:
        raise IntegrationError(service, error_message(service, response), response.status_code)
    return response


def json_of(service: str, response: httpx2.Response) -> Any:
    """The JSON body of a successful answer (None when it is empty)."""
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise IntegrationError(
            service, f"answered HTTP {response.status_code} with a body that is not JSON"
        ) from None


def _probe_request(service: str, credentials: dict[str, Any]) -> tuple[str, dict[str, str]]:
    base = credentials["base_url"]
    if service == "hubspot":
        return f"{base}/crm/v3/objects/contacts?limit=1", bearer(credentials["access_token"])
    if service == "sendgrid":
        return f"{base}/v3/scopes", bearer(credentials["api_key"])
    return f"{base}/users/me/calendarList?maxResults=1", bearer(credentials["access_token"])


async def probe(service: str, credentials: dict[str, Any] | None) -> tuple[ProbeStatus, str]:
    """Whether the credentials work: ("ok" | "not_configured" | "error", detail). A cheap
    authenticated GET with a short timeout; never raises."""
    try:
        if service not in SERVICES:
            return "error", f"unknown integration {service!r}"
        secret = SECRETS[service]
        if credentials is None or not credentials.get(secret):
            return "not_configured", f"{service} not configured (no {secret})"
        url, headers = _probe_request(service, with_defaults(service, credentials))
        response = await send(service, "GET", url, headers=headers, timeout=PROBE_TIMEOUT_SECONDS)
    except IntegrationError as exc:
        return "error", str(exc)
    except Exception as exc:  # e.g. a malformed base URL: a probe reports, never raises
        logger.info("probing %s failed: %r", service, exc)
        return "error", f"{service}: the settings could not be used ({type(exc).__name__})"
    detail = f"{service} answered HTTP {response.status_code}"
    if service == "sendgrid":
        missing = missing_fields(service, credentials)
        if missing:
            detail += f"; {', '.join(missing)} is not set, so email_send is skipped"
    return "ok", detail


def quote_segment(value: str) -> str:
    """A value as one URL path segment (a calendar id holds '@' and '#')."""
    return quote(value, safe="")


# The tools register themselves in DEFAULT on import; they use the helpers above.
from podium.tools.integrations import google_calendar, hubspot, sendgrid  # noqa: E402

TOOLS: list[Tool] = [*hubspot.TOOLS, *sendgrid.TOOLS, *google_calendar.TOOLS]

# The seed's per-agent tools, made of the ones above (registered too; not in TOOLS, which
# are one service's each).
from podium.tools.integrations import leads  # noqa: E402, F401


def tools_for(name: str) -> list[Tool]:
    """The integration tools of a service ("hubspot") or a domain ("crm"), by name."""
    return sorted((t for t in TOOLS if name in t.tags), key=lambda t: t.name)


def registry(name: str | None = None) -> ToolRegistry:
    """A registry of the integration tools (of one service or domain when given)."""
    return ToolRegistry(TOOLS if name is None else tools_for(name))


__all__ = [
    "DEFAULTS",
    "DOMAINS",
    "FIELDS",
    "REQUIRED",
    "SERVICES",
    "TOOLS",
    "IntegrationError",
    "missing_fields",
    "probe",
    "registry",
    "settings_credentials",
    "tools_for",
    "with_defaults",
]
