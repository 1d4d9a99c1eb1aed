"""The agent directory (podium.agents.directory) on every backend: the app's enabled agents
indexed in the knowledge store's `_agents` namespace, kept current when agents are created,
changed, disabled and deleted (also by another process), and searched by capability."""

from __future__ import annotations

from typing import Any

import pytest

from podium import Podium
from podium.agents.directory import NAMESPACE, AgentDirectory
from podium.agents.service import AgentService
from podium.errors import InvalidInput, LimitTooHigh
from podium.knowledge.service import KnowledgeService
from podium.sessions.service import SessionService

WEATHER = {
    "name": "forecaster",
    "description": "Weather forecasts for any city.",
    "capabilities": {"tags": ["weather", "forecast"], "description": "Gives the forecast."},
}


@pytest.fixture
async def app_id(podium: Podium) -> str:
    return await podium.store.ensure_app("directory")


@pytest.fixture
def agents(podium: Podium) -> AgentService:
    return AgentService(SessionService(podium))


def directory_of(podium: Podium, pack_agents: dict[str, str] | None = None) -> AgentDirectory:
    return AgentDirectory(podium.service("agents"), podium.service("knowledge"), pack_agents)


def names(found: dict[str, Any]) -> list[str]:
    return [hit["agent"] for hit in found["results"]]


async def test_weather_finds_the_weather_agent_first_with_its_reasons(
    podium: Podium, agents: AgentService, app_id: str
) -> None:
    await agents.define_agent(app_id, WEATHER, None)
    directory: AgentDirectory = podium.service("agent_directory")
    found = await directory.search(app_id, "weather", k=3)
    assert found["query"] == "weather" and found["mode"] == "text"
    best = found["results"][0]
    assert best["agent"] == "forecaster" and best["matched"] == ["weather"]
    assert best["score"] > 0 and best["source"] == "app"
    assert best["reasons"] == "matched weather in its name, description, capabilities or tools"
    assert best["tags"] == ["weather", "forecast"]
    assert best["description"] == "Gives the forecast."


async def test_built_in_agents_are_indexed_and_ranked(podium: Podium, app_id: str) -> None:
    found = await directory_of(podium).search(app_id, "qualify sales leads in the crm", k=3)
    assert names(found)[0] == "lead_qualification"
    assert found["results"][0]["source"] == "builtin"
    assert {"sales", "leads", "crm"} <= set(found["results"][0]["matched"])
    assert len(found["results"]) <= 3


async def test_the_index_follows_changes_disabling_and_deleting(
    podium: Podium, agents: AgentService, app_id: str
) -> None:
    directory = directory_of(podium)
    assert "forecaster" not in names(await directory.search(app_id, "weather"))
    await agents.define_agent(app_id, WEATHER, None)
    assert names(await directory.search(app_id, "weather"))[0] == "forecaster"

    changed = {**WEATHER, "description": "Tides and surf reports.", "capabilities": {}}
    await agents.define_agent(app_id, changed, None)
    assert "forecaster" not in names(await directory.search(app_id, "weather"))
    assert names(await directory.search(app_id, "surf"))[0] == "forecaster"

    await agents.set_enabled(app_id, "forecaster", False, None)
    assert "forecaster" not in names(await directory.search(app_id, "surf tides"))
    await agents.set_enabled(app_id, "chat", False, None)  # a built-in, disabled
    assert "chat" not in names(await directory.search(app_id, "conversation questions", k=10))

    await agents.set_enabled(app_id, "forecaster", True, None)
    assert names(await directory.search(app_id, "surf"))[0] == "forecaster"
    await agents.delete_agent(app_id, "forecaster")
    assert "forecaster" not in names(await directory.search(app_id, "surf tides"))
    knowledge: KnowledgeService = podium.service("knowledge")
    keys = [d["key"] for d in await knowledge.list_documents(app_id, NAMESPACE, system=True)]
    assert "forecaster" not in keys and "chat" not in keys and "driver" in keys


async def test_another_process_sees_the_changes_of_this_one(
    podium: Podium, agents: AgentService, app_id: str
) -> None:
    here, there = directory_of(podium), directory_of(podium)  # two processes' directories
    assert "forecaster" not in names(await there.search(app_id, "weather"))
    await agents.define_agent(app_id, WEATHER, None)
    assert names(await here.search(app_id, "weather"))[0] == "forecaster"
    assert names(await there.search(app_id, "weather"))[0] == "forecaster"
    await agents.delete_agent(app_id, "forecaster")
    assert "forecaster" not in names(await here.search(app_id, "weather"))
    assert "forecaster" not in names(await there.search(app_id, "weather"))


async def test_an_agent_of_a_pack_says_so(
    podium: Podium, agents: AgentService, app_id: str
) -> None:
    await agents.define_agent(app_id, WEATHER, None)
    found = await directory_of(podium, {"forecaster": "weatherpack"}).search(app_id, "forecast")
    assert found["results"][0]["source"] == "pack:weatherpack"


async def test_the_directory_is_per_app(podium: Podium, agents: AgentService, app_id: str) -> None:
    other = await podium.store.ensure_app("other")
    await agents.define_agent(app_id, WEATHER, None)
    directory = directory_of(podium)
    assert names(await directory.search(app_id, "weather"))[0] == "forecaster"
    assert "forecaster" not in names(await directory.search(other, "weather"))


async def test_bad_queries_and_k_are_refused_with_what_to_send(podium: Podium, app_id: str) -> None:
    directory = directory_of(podium)
    with pytest.raises(InvalidInput, match="q is empty: say what the agent should do"):
        await directory.search(app_id, "   ")
    with pytest.raises(InvalidInput, match="q is 501 characters; at most 500"):
        await directory.search(app_id, "w" * 501)
    with pytest.raises(InvalidInput, match="k is how many agents to return: from 1 to 50, not 0"):
        await directory.search(app_id, "weather", k=0)
    with pytest.raises(LimitTooHigh, match="PODIUM_AGENT_SEARCH_MAX_K"):
        await directory.search(app_id, "weather", k=51)
