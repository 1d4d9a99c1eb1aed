"""The lead scoring rubric: a deterministic score from 0 to 100, explained factor by factor.

The score never depends on a model, so it is the same on every server, offline included,
and a person can check it: every factor says how many points it gave, out of how many, and
why. The `lead_qualification` agent adds its notes next to it (see flows/leads_qualify.json).

    budget            35  how much the lead can spend (USD)
    service fit       20  how central the requested service is to what we sell
    detail            20  how much the message says (words)
    intent            15  words that show urgency or readiness ("asap", "deadline", …)
    company           10  a company named (5) and a business e-mail domain (5)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Budget bands in USD, highest first: (at least, points).
BUDGET_BANDS: tuple[tuple[int, int], ...] = (
    (50_000, 35),
    (20_000, 28),
    (10_000, 22),
    (5_000, 15),
    (1_000, 8),
)
SERVICE_FIT: dict[str, int] = {
    "web_development": 20,
    "mobile_app": 20,
    "ecommerce": 20,
    "digital_marketing": 15,
    "seo": 15,
    "branding": 15,
    "consulting": 10,
    "other": 5,
}
SERVICES = tuple(SERVICE_FIT)
# Message length bands in words, highest first: (at least, points).
DETAIL_BANDS: tuple[tuple[int, int], ...] = ((60, 20), (25, 14), (10, 8))
DETAIL_FLOOR = 2
INTENT_WORDS = (
    "asap",
    "urgent",
    "deadline",
    "launch",
    "this month",
    "next month",
    "this quarter",
    "next week",
    "ready to",
    "budget approved",
    "timeline",
)
INTENT_POINTS_EACH = 5
INTENT_MAX = 15
FREE_MAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "aol.com",
        "icloud.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "mail.com",
    }
)
HOT_AT = 70
WARM_AT = 40
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Factor:
    name: str
    points: int
    max_points: int
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"factor": self.name, "points": self.points, "max": self.max_points, "why": self.why}


@dataclass(frozen=True, slots=True)
class Score:
    score: int
    tier: str  # hot | warm | cold
    factors: tuple[Factor, ...]

    def reasoning(self) -> list[dict[str, Any]]:
        return [factor.to_json() for factor in self.factors]

    def summary(self) -> str:
        """One line: the score, the tier and each factor's points."""
        parts = ", ".join(f"{f.name} {f.points}/{f.max_points}" for f in self.factors)
        return f"{self.score}/100 ({self.tier}): {parts}"


def tier_of(score: int) -> str:
    if score >= HOT_AT:
        return "hot"
    if score >= WARM_AT:
        return "warm"
    return "cold"


def score_lead(lead: dict[str, Any]) -> Score:
    """Score a lead (its `budget`, `service`, `message`, `company` and `email`)."""
    factors = (
        _budget(lead.get("budget")),
        _service(str(lead.get("service") or "other")),
        _detail(str(lead.get("message") or "")),
        _intent(str(lead.get("message") or "")),
        _company(lead.get("company"), str(lead.get("email") or "")),
    )
    total = sum(factor.points for factor in factors)
    return Score(total, tier_of(total), factors)


def _budget(budget: Any) -> Factor:
    if budget is None:
        return Factor("budget", 0, 35, "no budget given")
    for floor, points in BUDGET_BANDS:
        if budget >= floor:
            return Factor("budget", points, 35, f"budget ${budget:,.0f} is at least ${floor:,}")
    return Factor("budget", 0, 35, f"budget ${budget:,.0f} is under ${BUDGET_BANDS[-1][0]:,}")


def _service(service: str) -> Factor:
    points = SERVICE_FIT.get(service, SERVICE_FIT["other"])
    return Factor("service fit", points, 20, f"{service} is worth {points} of 20")


def _detail(message: str) -> Factor:
    words = len(_WORD.findall(message))
    for floor, points in DETAIL_BANDS:
        if words >= floor:
            return Factor("detail", points, 20, f"the message has {words} words, at least {floor}")
    return Factor("detail", DETAIL_FLOOR, 20, f"the message has only {words} words")


def _intent(message: str) -> Factor:
    lowered = message.lower()
    found = [word for word in INTENT_WORDS if re.search(rf"\b{re.escape(word)}\b", lowered)]
    points = min(INTENT_MAX, INTENT_POINTS_EACH * len(found))
    why = f"says {', '.join(repr(w) for w in found)}" if found else "no urgency or readiness words"
    return Factor("intent", points, INTENT_MAX, why)


def _company(company: Any, email: str) -> Factor:
    domain = email.rpartition("@")[2].lower()
    named = bool(company and str(company).strip())
    business = bool(domain) and domain not in FREE_MAIL
    reasons = [
        "a company is named" if named else "no company named",
        f"{domain} is a business domain" if business else f"{domain or 'the e-mail'} is free mail",
    ]
    return Factor("company", 5 * named + 5 * business, 10, "; ".join(reasons))
