"""Google Calendar tools (Calendar API v3, OAuth access token as a Bearer token)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import Field

from podium.tools.base import Tool, ToolContext, tool
from podium.tools.integrations import bearer, json_of, quote_segment, require_credentials, send

SERVICE = "google_calendar"
TAGS = ("integration", SERVICE, "calendar")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _when(value: str) -> dict[str, str]:
    """An event time: a date ("2025-03-01") is all-day, anything else an RFC 3339 time."""
    return {"date": value} if _DATE.match(value) else {"dateTime": value}


def _compact(event: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        return {}
    keys = ("id", "status", "summary", "description", "start", "end", "htmlLink", "location")
    compact = {key: event[key] for key in keys if event.get(key) not in (None, "")}
    attendees = [a.get("email") for a in event.get("attendees") or [] if isinstance(a, dict)]
    if attendees:
        compact["attendees"] = attendees
    return compact


async def _events_url(ctx: ToolContext) -> tuple[str, dict[str, str]]:
    credentials = await require_credentials(ctx, SERVICE)
    calendar = quote_segment(str(credentials["calendar_id"]))
    url = f"{credentials['base_url']}/calendars/{calendar}/events"
    return url, bearer(credentials["access_token"])


@tool(tags=TAGS)
async def calendar_create_event(
    ctx: ToolContext,
    summary: str,
    start: str,
    end: str,
    description: str | None = None,
    attendees: list[str] | None = None,
) -> dict[str, Any]:
    """Create an event in the app's Google Calendar; returns the event.

    Args:
        summary: The event's title.
        start: When it starts, RFC 3339 with an offset, e.g. "2025-03-01T10:00:00+01:00"
            (a date alone, "2025-03-01", makes an all-day event).
        end: When it ends, in the same form as `start`.
        description: What the event is about.
        attendees: The attendees' email addresses.
    """
    url, headers = await _events_url(ctx)
    event: dict[str, Any] = {"summary": summary, "start": _when(start), "end": _when(end)}
    if description is not None:
        event["description"] = description
    if attendees:
        event["attendees"] = [{"email": email} for email in attendees]
    response = await send(SERVICE, "POST", url, headers=headers, json_body=event)
    return _compact(json_of(SERVICE, response))


@tool(tags=TAGS)
async def calendar_list_events(
    ctx: ToolContext,
    time_min: str | None = None,
    max_results: Annotated[int, Field(ge=1, le=250)] = 10,
) -> dict[str, Any]:
    """List the upcoming events of the app's Google Calendar, soonest first.

    Args:
        time_min: The earliest end time of the events, RFC 3339 with an offset, e.g.
            "2025-03-01T00:00:00Z"; now when omitted.
        max_results: How many events at most (1 to 250).
    """
    url, headers = await _events_url(ctx)
    params: dict[str, str | int] = {
        "maxResults": max_results,
        "singleEvents": "true",
        "orderBy": "startTime",
        "timeMin": time_min or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    response = await send(SERVICE, "GET", url, headers=headers, params=params)
    listed = json_of(SERVICE, response)
    listed = listed if isinstance(listed, dict) else {}
    result: dict[str, Any] = {"events": [_compact(e) for e in listed.get("items") or []]}
    if listed.get("nextPageToken"):
        result["next_page_token"] = listed["nextPageToken"]
    return result


TOOLS: list[Tool] = [calendar_create_event, calendar_list_events]
