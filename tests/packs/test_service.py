"""Enabling a pack made in code: its node types and tools are there from the start, and
enabling it in an app registers its flows and agents, applies its workflow graph and runs
its seed (with the context a seed gets); another app sees none of it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from tests.conftest import fast_settings

from podium import FlowBuilder, Podium, default_registry
from podium.engine.context import Context
from podium.engine.node_types import NodeResult, NodeType
from podium.engine.registry import Registry
from podium.packs.base import Pack, PackContext
from podium.packs.service import PackService
from podium.sessions.service import SessionService
from podium.tools.base import DEFAULT, tool


class ShoutConfig(BaseModel):
    key: str


class ShoutNode(NodeType):
    name = "helpers_shout"
    description = "Upper-cases a state key."
    config_model = ShoutConfig

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        return NodeResult({config.key: str(ctx.state.get(config.key, "")).upper()})


@tool(registry=None)
def helpers_weather(city: str) -> str:
    """Say what the weather is.

    Args:
        city: where
    """
    return f"sunny in {city}"


seeded: list[tuple[str, str, Any]] = []


async def seed(ctx: PackContext) -> None:
    await ctx.services.memory.set(ctx.app_id, "app", ctx.app_id, "helpers_seeded", True)
    seq = await ctx.emit("helpers.seeded", {"by": ctx.pack})
    seeded.append((ctx.app_id, ctx.pack, await ctx.credentials("hubspot")))
    assert seq > 0


def helpers_pack() -> Pack:
    shout = FlowBuilder("helpers_shout_flow").node("s", "helpers_shout", {"key": "word"}).build()
    return Pack(
        name="helpers",
        description="A pack made in code.",
        flows=[shout],
        agents=[{"name": "helpers_agent", "instructions": "Help.", "tools": ["helpers_weather"]}],
        node_types=[ShoutNode],
        tools=[helpers_weather],
        seed=seed,
    )


def registry_with(pack: Pack) -> Registry:
    from podium.assembly import install_packs

    base = default_registry(fast_settings())
    registry = Registry(
        node_types=dict(base.node_types),
        context_services=dict(base.context_services),
        runtime_services=dict(base.runtime_services),
    )
    install_packs(registry, [pack])
    return registry


async def test_enabling_a_pack_brings_its_parts_to_one_app(database_url: str) -> None:
    seeded.clear()
    registry = registry_with(helpers_pack())
    assert registry.node_type("helpers_shout") is not None
    assert DEFAULT.get("helpers_weather") is helpers_weather
    settings = fast_settings()
    async with Podium.open(database_url, settings=settings, registry=registry) as podium:
        sessions = SessionService(podium)
        await sessions.open()
        packs = PackService(podium, sessions)
        mine = await podium.store.ensure_app("mine")
        other = await podium.store.ensure_app("other")

        view = await packs.enable(mine, "helpers", actor=None)
        assert view.to_json()["flows"] == ["helpers_shout_flow"]
        assert seeded == [(mine, "helpers", None)]
        agent = await packs.agents.get_agent(mine, "helpers_agent")
        assert agent.definition.tools == ["helpers_weather"]
        memory = await packs.services.memory.find(mine, "app", mine, "helpers_seeded")
        assert memory is not None and memory.value is True
        [event] = [e for e in await podium.store.read_events(mine) if e.type == "helpers.seeded"]
        assert event.data == {"by": "helpers"}

        run = await podium.run("helpers_shout_flow", {"word": "hey"}, app_id=mine)
        assert (run.status, (await podium.store.get_session(run.session_id)).state) == (
            "succeeded",
            {"word": "HEY"},
        )
        # The other app enabled nothing: no flow, no agent, the pack listed as disabled.
        assert [v.enabled for v in await packs.list(other)] == [False]
        assert await podium.store.find_flow(other, "helpers_shout_flow") is None
        assert "helpers_agent" not in await podium.service("agents").all_definitions(other)


async def test_a_seed_cannot_emit_an_event_over_the_cap_and_leaves_the_pack_disabled(
    database_url: str,
) -> None:
    from podium.errors import LimitExceeded

    async def big_seed(ctx: PackContext) -> None:
        await ctx.emit("helpers.big", {"blob": "x" * 2_000})

    settings = fast_settings(max_event_bytes=1_000)
    registry = registry_with(Pack(name="bigseed", seed=big_seed))
    async with Podium.open(database_url, settings=settings, registry=registry) as podium:
        sessions = SessionService(podium)
        await sessions.open()
        packs = PackService(podium, sessions)
        app_id = await podium.store.ensure_app("mine")
        try:
            await packs.enable(app_id, "bigseed", actor=None)
        except LimitExceeded as exc:
            assert exc.message.startswith("event 'helpers.big' data is 2011 bytes, over the cap")
        else:
            raise AssertionError("the seed's event was not refused")
        assert [e for e in await podium.store.read_events(app_id) if e.type == "helpers.big"] == []
        assert [view.enabled for view in await packs.list(app_id)] == [False]
