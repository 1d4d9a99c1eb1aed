"""The agents the orchestrator pack adds to an app's directory: one per everyday capability
("weather", "schedule a meeting", "translate", "summarize", "news"), each with capabilities
and tags the directory indexes. They run on `offline/script` with the sample tools, so they
answer the same way on any server; an app replaces one by defining an agent of the same name
(its own model and tools), or adds others the directory finds beside them."""

from __future__ import annotations

from typing import Any

MODEL = "offline/script"


def _agent(
    name: str,
    description: str,
    tags: list[str],
    capability: str,
    tool: str | None,
    arguments: dict[str, Any],
    answer: str,
) -> dict[str, Any]:
    script: list[dict[str, Any]] = []
    if tool is not None:
        script.append({"tool_calls": [{"name": tool, "arguments": arguments}]})
    script.append({"text": answer})
    return {
        "name": name,
        "description": description,
        "instructions": f"You are the {name.replace('_', ' ')}. {capability} Use your tools "
        "and answer in two or three sentences.",
        "model": MODEL,
        "tools": [tool] if tool else [],
        "capabilities": {"tags": tags, "description": capability},
        "max_turns": 3,
        "script": script,
    }


SAMPLE_AGENTS: list[dict[str, Any]] = [
    _agent(
        "weather_agent",
        "Weather forecasts for a city: temperature, rain and wind (sample data).",
        ["weather", "forecast", "temperature", "rain", "climate"],
        "Gives the weather forecast for a place.",
        "sample_weather_forecast",
        {"city": ""},
        "Sample forecast: partly cloudy today, 18 °C (low 11 °C, 20 % chance of rain); sunny "
        "tomorrow, 20 °C. (Sample data, not a live forecast.)",
    ),
    _agent(
        "meeting_scheduler",
        "Schedules meetings: finds free slots in a calendar and proposes a time (sample calendar).",
        ["schedule", "scheduling", "meeting", "meetings", "calendar", "appointment"],
        "Schedules meetings and appointments in a calendar.",
        "sample_meeting_slots",
        {"minutes": 30},
        "Proposed meeting: Tuesday 10:00 UTC for 30 minutes (other free slots: Tuesday 14:30, "
        "Wednesday 09:00). (Sample calendar.)",
    ),
    _agent(
        "translator",
        "Translates text between languages: French, Spanish, German, English (sample phrasebook).",
        ["translate", "translation", "translating", "language", "french", "spanish", "german"],
        "Translates text into another language.",
        "sample_phrasebook",
        {"phrase": "hello", "language": "French"},
        "Sample translation: “hello” is “bonjour” in French (from the sample phrasebook; "
        "connect a model to translate your own text).",
    ),
    _agent(
        "summarizer",
        "Summarizes text, articles and results into a few sentences.",
        ["summarize", "summarise", "summary", "summaries", "tldr", "digest"],
        "Summarizes text into its key points.",
        None,
        {},
        "Summary: the key points, in three short sentences. (Sample summarizer: connect a "
        "model to summarize the real text.)",
    ),
    _agent(
        "news_agent",
        "Finds the latest news headlines on a topic (sample feed).",
        ["news", "headlines", "articles", "current", "events"],
        "Finds news headlines.",
        "sample_headlines",
        {},
        "Top headlines (sample feed): city council approves new bike lanes; local team wins "
        "the regional final; library extends weekend opening hours.",
    ),
]
