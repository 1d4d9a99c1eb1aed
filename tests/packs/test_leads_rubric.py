"""The leads rubric: the same lead always gets the same score, each factor explains its
points, and the tiers cut at 70 and 40."""

from __future__ import annotations

import pytest

from podium.packs.leads.rubric import HOT_AT, WARM_AT, score_lead, tier_of

HOT = {
    "budget": 60_000,
    "service": "web_development",
    "company": "Acme Robotics",
    "email": "ceo@acme-robotics.com",
    "message": (
        "We need a new customer portal before our product launch next month. The budget is "
        "approved and we are ready to start ASAP. The portal needs single sign-on, a "
        "dashboard of orders, invoices with PDF export, a support ticket area, and an admin "
        "back office for our team of twelve people who handle about 400 customers a week "
        "across three regions and two languages."
    ),
}


def test_a_strong_lead_is_hot_and_every_factor_says_why() -> None:
    scored = score_lead(HOT)
    points = {f.name: (f.points, f.max_points) for f in scored.factors}
    assert points == {
        "budget": (35, 35),
        "service fit": (20, 20),
        "detail": (20, 20),
        "intent": (15, 15),
        "company": (10, 10),
    }
    assert (scored.score, scored.tier) == (100, "hot")
    reasoning = scored.reasoning()
    assert reasoning[0] == {
        "factor": "budget",
        "points": 35,
        "max": 35,
        "why": "budget $60,000 is at least $50,000",
    }
    assert reasoning[3]["why"] == "says 'asap', 'launch', 'next month', 'ready to'"
    assert scored.summary().startswith("100/100 (hot): budget 35/35, service fit 20/20")


def test_a_thin_lead_is_cold_and_says_what_is_missing() -> None:
    scored = score_lead({"service": "other", "email": "bob@gmail.com", "message": "hi, a website?"})
    whys = {f.name: f.why for f in scored.factors}
    assert whys == {
        "budget": "no budget given",
        "service fit": "other is worth 5 of 20",
        "detail": "the message has only 3 words",
        "intent": "no urgency or readiness words",
        "company": "no company named; gmail.com is free mail",
    }
    assert (scored.score, scored.tier) == (7, "cold")


def test_the_same_lead_scores_the_same_every_time() -> None:
    assert score_lead(HOT) == score_lead(dict(HOT))


@pytest.mark.parametrize(
    ("budget", "points"),
    [(None, 0), (999, 0), (1_000, 8), (5_000, 15), (10_000, 22), (20_000, 28), (50_000, 35)],
)
def test_budget_bands(budget: int | None, points: int) -> None:
    lead = {**HOT, "budget": budget}
    assert score_lead(lead).factors[0].points == points


def test_intent_words_count_five_each_up_to_fifteen_and_only_as_words() -> None:
    def intent(message: str) -> int:
        return score_lead({**HOT, "message": message}).factors[3].points

    assert intent("urgent") == 5
    assert intent("urgent, deadline") == 10
    assert intent("urgent deadline asap launch") == 15
    assert intent("relaunched plasma") == 0  # "launch", "asap" inside other words


def test_tiers() -> None:
    assert [tier_of(s) for s in (HOT_AT, HOT_AT - 1, WARM_AT, WARM_AT - 1)] == [
        "hot",
        "warm",
        "warm",
        "cold",
    ]
