"""Request and response bodies of the leads routes, with the caps on what a tenant sends."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from podium.packs.leads.rubric import SERVICES

MAX_NAME = 200
MAX_EMAIL = 254  # RFC 5321's limit on a forward path
MAX_COMPANY = 200
MAX_MESSAGE = 5000
MAX_BUDGET = 100_000_000  # USD; a larger number is a typo, not a lead
DEFAULT_PAGE = 20
MAX_PAGE = 100  # the server's cap on `limit` of GET /leads
MAX_ANALYZE_WAIT = 30.0  # seconds POST /leads/{id}/analyze may hold the request
DEFAULT_ANALYZE_WAIT = 10.0
STATUSES = ("new", "analyzing", "analyzed")
TIERS = ("hot", "warm", "cold")
Service = Literal[
    "web_development",
    "mobile_app",
    "ecommerce",
    "digital_marketing",
    "seo",
    "branding",
    "consulting",
    "other",
]
Status = Literal["new", "analyzing", "analyzed"]
Tier = Literal["hot", "warm", "cold"]
# One '@', a dot in the domain, no spaces: what a form can check without sending mail.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
assert set(SERVICES) == set(Service.__args__)  # type: ignore[attr-defined]


class LeadCreate(BaseModel):
    """A lead as a contact form submits it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=MAX_NAME, description="who to contact")
    email: str = Field(max_length=MAX_EMAIL, description="their e-mail address")
    company: str | None = Field(default=None, max_length=MAX_COMPANY)
    message: str = Field(max_length=MAX_MESSAGE, description="what they need, in their words")
    service: Service = Field(description="the service they ask about")
    budget: int | None = Field(
        default=None, ge=0, le=MAX_BUDGET, description="what they can spend, in USD"
    )

    @field_validator("name", "message")
    @classmethod
    def not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty; send some text")
        return value

    @field_validator("company")
    @classmethod
    def blank_company_is_none(cls, value: str | None) -> str | None:
        return (value.strip() or None) if value is not None else None

    @field_validator("email")
    @classmethod
    def looks_like_email(cls, value: str) -> str:
        value = value.strip()
        if not _EMAIL.match(value):
            raise ValueError(
                f"{value[:60]!r} is not an e-mail address; send one like name@example.com"
            )
        return value


class LeadPublic(BaseModel):
    """A lead with its analysis (null until analyzed) and its follow-ups."""

    id: str
    app_id: str
    name: str
    email: str
    company: str | None
    message: str
    service: str
    budget: int | None
    status: Status
    score: int | None = Field(description="0–100, from the rubric; null until analyzed")
    tier: Tier | None
    reasoning: list[dict[str, Any]] | None = Field(
        description="the rubric, factor by factor: {factor, points, max, why}"
    )
    agent_notes: str | None = Field(description="what the lead_qualification agent said")
    analysis_session_id: str | None
    followups: dict[str, Any] = Field(
        description="what the event handlers did: {crm, email, calendar}: {status, …}"
    )
    submitted_by: str | None
    created_at: float
    updated_at: float
    analyzed_at: float | None


class LeadPage(BaseModel):
    items: list[LeadPublic]
    next_cursor: str | None


class AnalyzeAccepted(BaseModel):
    """The answer of POST /leads/{id}/analyze: the lead (analyzed, or still analyzing when
    the wait ran out) and the run that analyzes it."""

    lead: LeadPublic
    run_id: str
    session_id: str
