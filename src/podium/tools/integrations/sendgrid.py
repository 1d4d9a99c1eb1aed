"""SendGrid email tool (Mail Send API v3, API key as a Bearer token)."""

from __future__ import annotations

from typing import Any

from podium.tools.base import Tool, ToolContext, tool
from podium.tools.integrations import bearer, require_credentials, send

SERVICE = "sendgrid"
TAGS = ("integration", SERVICE, "email")


@tool(tags=TAGS)
async def email_send(
    ctx: ToolContext, to: str, subject: str, body: str, html: bool = False
) -> dict[str, Any]:
    """Send an email through SendGrid, from the app's configured sender address.

    Args:
        to: The recipient's email address.
        subject: The subject line.
        body: The message, plain text (or HTML when `html` is true).
        html: Whether the body is HTML.
    """
    credentials = await require_credentials(ctx, SERVICE)
    message = {
        "personalizations": [{"to": [{"email": to}]}],
        "from": {"email": credentials["from_email"]},
        "subject": subject,
        "content": [{"type": "text/html" if html else "text/plain", "value": body}],
    }
    response = await send(
        SERVICE,
        "POST",
        f"{credentials['base_url']}/v3/mail/send",
        headers=bearer(credentials["api_key"]),
        json_body=message,
    )
    # SendGrid accepts with 202 and an empty body; the message's id is a header.
    return {"status": "sent", "message_id": response.headers.get("X-Message-Id")}


TOOLS: list[Tool] = [email_send]
