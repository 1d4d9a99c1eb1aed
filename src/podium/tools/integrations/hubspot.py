"""HubSpot CRM tools (CRM API v3, private-app access token as a Bearer token)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from podium.tools.base import Tool, ToolContext, tool
from podium.tools.integrations import bearer, json_of, require_credentials, send

SERVICE = "hubspot"
TAGS = ("integration", SERVICE, "crm")


def _compact(record: Any) -> dict[str, Any]:
    """A CRM object as its id and its non-empty properties."""
    if not isinstance(record, dict):
        return {"id": None, "properties": {}}
    properties = record.get("properties") or {}
    return {
        "id": record.get("id"),
        "properties": {k: v for k, v in properties.items() if v not in (None, "")},
    }


def _amount(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


async def _post(ctx: ToolContext, path: str, body: dict[str, Any]) -> Any:
    credentials = await require_credentials(ctx, SERVICE)
    response = await send(
        SERVICE,
        "POST",
        f"{credentials['base_url']}{path}",
        headers=bearer(credentials["access_token"]),
        json_body=body,
    )
    return json_of(SERVICE, response)


@tool(tags=TAGS)
async def crm_create_contact(
    ctx: ToolContext,
    email: str,
    firstname: str | None = None,
    lastname: str | None = None,
    company: str | None = None,
    phone: str | None = None,
) -> dict[str, Any]:
    """Create a contact in the HubSpot CRM; returns its id and properties.

    Args:
        email: The contact's email address.
        firstname: The contact's first name.
        lastname: The contact's last name.
        company: The contact's company name.
        phone: The contact's phone number.
    """
    given = {
        "email": email,
        "firstname": firstname,
        "lastname": lastname,
        "company": company,
        "phone": phone,
    }
    properties = {k: v for k, v in given.items() if v is not None}
    return _compact(await _post(ctx, "/crm/v3/objects/contacts", {"properties": properties}))


@tool(tags=TAGS)
async def crm_search_contacts(ctx: ToolContext, query: str) -> dict[str, Any]:
    """Search the HubSpot CRM's contacts by text (name, email, company, phone); at most 10.

    Args:
        query: The text to look for, e.g. an email address or a name.
    """
    found = await _post(ctx, "/crm/v3/objects/contacts/search", {"query": query, "limit": 10})
    found = found if isinstance(found, dict) else {}
    results = [_compact(r) for r in found.get("results") or []]
    return {"total": found.get("total", len(results)), "results": results}


@tool(tags=TAGS)
async def crm_create_deal(
    ctx: ToolContext,
    dealname: str,
    amount: float | None = None,
    dealstage: str | None = None,
    pipeline: str | None = None,
) -> dict[str, Any]:
    """Create a deal in the HubSpot CRM; returns its id and properties.

    Args:
        dealname: The deal's name.
        amount: The deal's amount, in the account's currency.
        dealstage: The internal name of the deal's stage, e.g. "appointmentscheduled",
            "qualifiedtobuy" or "closedwon" in the default pipeline.
        pipeline: The internal name of the deal's pipeline, e.g. "default".
    """
    properties: dict[str, str] = {"dealname": dealname}
    if amount is not None:
        properties["amount"] = _amount(amount)
    if dealstage is not None:
        properties["dealstage"] = dealstage
    if pipeline is not None:
        properties["pipeline"] = pipeline
    return _compact(await _post(ctx, "/crm/v3/objects/deals", {"properties": properties}))


@tool(tags=TAGS)
async def crm_list_deals(
    ctx: ToolContext, limit: Annotated[int, Field(ge=1, le=100)] = 10
) -> dict[str, Any]:
    """List deals of the HubSpot CRM, with their ids and properties.

    Args:
        limit: How many deals at most (1 to 100).
    """
    credentials = await require_credentials(ctx, SERVICE)
    response = await send(
        SERVICE,
        "GET",
        f"{credentials['base_url']}/crm/v3/objects/deals",
        headers=bearer(credentials["access_token"]),
        params={"limit": limit},
    )
    listed = json_of(SERVICE, response)
    listed = listed if isinstance(listed, dict) else {}
    result: dict[str, Any] = {"results": [_compact(r) for r in listed.get("results") or []]}
    after = ((listed.get("paging") or {}).get("next") or {}).get("after")
    if after:
        result["next_after"] = after
    return result


TOOLS: list[Tool] = [crm_create_contact, crm_search_contacts, crm_create_deal, crm_list_deals]
