"""The sample tools of the orchestrator pack's directory agents. They answer canned data,
offline, and say so (`"source": "sample data …"`): they show the orchestrator's pipeline
end to end on a server with no model and no integration. Replace the agents that use them
with your own (a real model, real tools) and the orchestrator routes to those instead."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from podium.tools.base import tool

SAMPLE = "sample data from the orchestrator pack (offline, not live)"
TAGS = ("sample", "orchestrator")
Text = Annotated[str, Field(max_length=500)]


@tool(tags=TAGS)
async def sample_weather_forecast(city: Text = "") -> dict[str, Any]:
    """A sample weather forecast (canned data, not live).

    Args:
        city: The city, e.g. Paris.
    """
    return {
        "source": SAMPLE,
        "city": city or "your city",
        "today": {"summary": "partly cloudy", "high_c": 18, "low_c": 11, "rain_chance": 0.2},
        "tomorrow": {"summary": "sunny", "high_c": 20, "low_c": 12, "rain_chance": 0.05},
    }


@tool(tags=TAGS)
async def sample_meeting_slots(topic: Text = "", minutes: int = 30) -> dict[str, Any]:
    """Free meeting slots from a sample calendar (canned data, not a real calendar).

    Args:
        topic: What the meeting is about.
        minutes: How long it lasts.
    """
    return {
        "source": SAMPLE,
        "topic": topic or "meeting",
        "minutes": minutes,
        "slots": ["Tuesday 10:00 UTC", "Tuesday 14:30 UTC", "Wednesday 09:00 UTC"],
    }


@tool(tags=TAGS)
async def sample_phrasebook(phrase: Text = "hello", language: Text = "French") -> dict[str, Any]:
    """A phrase from a sample phrasebook (canned data, a handful of phrases).

    Args:
        phrase: The phrase, e.g. hello.
        language: The language to translate into, e.g. French.
    """
    book = {
        "french": {"hello": "bonjour", "thank you": "merci", "good morning": "bonjour"},
        "spanish": {"hello": "hola", "thank you": "gracias", "good morning": "buenos días"},
        "german": {"hello": "hallo", "thank you": "danke", "good morning": "guten Morgen"},
    }
    found = book.get(language.lower(), {}).get(phrase.lower())
    return {"source": SAMPLE, "phrase": phrase, "language": language, "translation": found}


@tool(tags=TAGS)
async def sample_headlines(topic: Text = "") -> dict[str, Any]:
    """Headlines from a sample news feed (canned data, not live news).

    Args:
        topic: A topic to filter on.
    """
    return {
        "source": SAMPLE,
        "topic": topic or "general",
        "headlines": [
            "City council approves new bike lanes",
            "Local team wins the regional final",
            "Library extends weekend opening hours",
        ],
    }


SAMPLE_TOOLS = [sample_weather_forecast, sample_meeting_slots, sample_phrasebook, sample_headlines]
