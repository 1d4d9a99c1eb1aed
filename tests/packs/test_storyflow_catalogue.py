"""The storyflow component catalogue: the 13 shipped components agree with the node types
(each names an installed type, and only ports and config keys it has), seeding at upgrade
is idempotent (twice leaves 13), and the routes list the shipped and the app's own
components and let an app's admins add, replace and delete its own, with clear refusals."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from tests.conftest import fast_settings
from tests.packs.conftest import (
    STORYFLOW_MIGRATIONS,
    downgrade_pack,
    shipped_pack_specs,
    upgrade_pack,
)
from tests.packs.test_storyflow import Studio, studio  # noqa: F401

from podium.assembly import default_registry
from podium.packs.storyflow import catalogue
from podium.packs.storyflow.nodes import NODE_TYPES
from podium.storage.urls import async_url

SEED_COMPONENTS = [
    "consistentCharacter",
    "sceneBuilder",
    "initialPrompt",
    "promptEnhancer",
    "translator",
    "storyTeller",
    "grammarFix",
    "compressor",
    "textOutput",
    "agent",
    "template",
    "router",
    "imageGenerator",
]


def registry() -> Any:
    return default_registry(fast_settings(packs=shipped_pack_specs()))


def test_the_13_shipped_components_agree_with_the_node_types() -> None:
    shipped = catalogue.shipped()
    assert [c["id"] for c in shipped] == SEED_COMPONENTS
    installed = registry()
    for component in shipped:
        assert catalogue.consistency_problems(component, installed) == [], component["id"]
        node_type = installed.node_types[component["node_type"]]
        assert [p["id"] for p in component["ports"]["inputs"]] == list(node_type.inputs)
        assert [p["id"] for p in component["ports"]["outputs"]] == list(node_type.outputs)
        assert set(component) >= {"fields", "ports", "api_config", "output_schema"}
    # Every creative node type has its component.
    assert {t.name for t in NODE_TYPES} <= {c["node_type"] for c in shipped}


def test_the_consistency_check_names_a_missing_type_port_or_field() -> None:
    installed = registry()
    story = copy.deepcopy(next(c for c in catalogue.shipped() if c["id"] == "storyTeller"))
    story["ports"]["inputs"].append({"id": "image", "label": "Image", "kind": "image"})
    story["fields"].append({"name": "rhyme", "label": "Rhyme", "type": "boolean"})
    assert catalogue.consistency_problems(story, installed) == [
        "component 'storyTeller': node type 'storyTeller' has no input port 'image' (its "
        "inputs: text, adapter)",
        "component 'storyTeller': field 'rhyme' is not a config key of node type 'storyTeller' "
        "(its keys: label, model, agent, prompt_version, temperature, max_tokens, length, genre)",
    ]
    story["node_type"] = "poemWriter"
    [problem] = catalogue.consistency_problems(story, installed)
    assert problem.startswith(
        "component 'storyTeller' names node type 'poemWriter', which is not installed; use one "
        "of agent, collaboration_turn, compressor"
    )


async def _count_after_seeding(url: str, times: int) -> int:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(async_url(url))
    try:
        for _ in range(times):
            async with engine.begin() as connection:
                assert await connection.run_sync(catalogue.seed_shipped) == 13
        async with engine.begin() as connection:
            rows = (
                await connection.execute(text("SELECT component_id FROM storyflow_components"))
            ).all()
            return len(rows)
    finally:
        await engine.dispose()


async def _spoil(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(async_url(url))
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("DELETE FROM storyflow_components WHERE component_id = 'router'")
            )
            await connection.execute(text("UPDATE storyflow_components SET name = 'x'"))
    finally:
        await engine.dispose()


def test_seeding_at_upgrade_is_idempotent(database_url: str) -> None:
    upgrade_pack(database_url, STORYFLOW_MIGRATIONS, "storyflow")  # seeds once
    try:
        assert asyncio.run(_count_after_seeding(database_url, 2)) == 13
        upgrade_pack(database_url, STORYFLOW_MIGRATIONS, "storyflow")  # at head: nothing
        assert asyncio.run(_count_after_seeding(database_url, 0)) == 13
        asyncio.run(_spoil(database_url))
        assert asyncio.run(_count_after_seeding(database_url, 1)) == 13
    finally:
        if not database_url.startswith("sqlite"):
            downgrade_pack(database_url, STORYFLOW_MIGRATIONS, "storyflow")


OWN = {
    "id": "noirTeller",
    "node_type": "storyTeller",
    "name": "Noir Teller",
    "category": "text_processing",
    "description": "A storyTeller preset for noir.",
    "fields": [{"name": "genre", "label": "Genre", "type": "text", "default": "noir"}],
    "ports": {
        "inputs": [{"id": "text", "label": "Text", "kind": "text"}],
        "outputs": [{"id": "text", "label": "Text", "kind": "text"}],
    },
    "api_config": {"calls_model": "always", "prompt": "storyTeller/v1"},
    "output_schema": {"type": "object"},
}


def test_the_palette_is_the_shipped_components_then_the_app_s_own(studio: Studio) -> None:  # noqa: F811
    components = f"{studio.pack}/components"
    listed = studio.ok("GET", components)
    assert [c["id"] for c in listed] == SEED_COMPONENTS
    assert {c["source"] for c in listed} == {"shipped"}
    story = studio.ok("GET", f"{components}/storyTeller")
    assert story["ports"]["inputs"][0] == {"id": "text", "label": "Text", "kind": "text"}
    assert story["api_config"]["prompt"] == "storyTeller/v1"

    own = studio.ok("POST", components, OWN)
    assert (own["id"], own["source"], own["fields"][0]["default"]) == ("noirTeller", "app", "noir")
    assert [c["id"] for c in studio.ok("GET", components)] == [*SEED_COMPONENTS, "noirTeller"]
    replaced = studio.ok(
        "PUT",
        f"{components}/noirTeller",
        {**{k: v for k, v in OWN.items() if k != "id"}, "name": "Noir"},
    )
    assert replaced["name"] == "Noir" and studio.ok("GET", f"{components}/noirTeller") == replaced
    assert studio.call("DELETE", f"{components}/noirTeller").status_code == 204
    gone = studio.call("GET", f"{components}/noirTeller")
    assert gone.status_code == 404
    assert gone.json()["error"]["message"] == (
        "no component 'noirTeller' in this app's catalogue; list them with GET "
        "/packs/storyflow/components"
    )
    assert [c["id"] for c in studio.ok("GET", components)] == SEED_COMPONENTS


def test_component_refusals(studio: Studio) -> None:  # noqa: F811
    components = f"{studio.pack}/components"
    body = {k: v for k, v in OWN.items() if k != "id"}

    def refused(method: str, path: str, sent: Any, status: int) -> str:
        response = studio.call(method, path, sent)
        assert response.status_code == status, response.text
        message: str = response.json()["error"]["message"]
        return message

    assert refused("POST", components, {**OWN, "node_type": "poemWriter"}, 400).startswith(
        "component 'noirTeller' names node type 'poemWriter', which is not installed; use one of"
    )
    bad_port = {**OWN, "ports": {"inputs": [{"id": "image", "label": "Image"}], "outputs": []}}
    assert refused("POST", components, bad_port, 400) == (
        "component 'noirTeller': node type 'storyTeller' has no input port 'image' (its "
        "inputs: text, adapter)"
    )
    assert refused("POST", components, {**OWN, "id": "1bad"}, 422).startswith(
        "body.id: String should match pattern"
    )
    assert refused("POST", components, {**OWN, "colour": "red"}, 422) == (
        "body.colour: Extra inputs are not permitted"
    )
    repeated = {**OWN, "fields": [OWN["fields"][0], OWN["fields"][0]]}
    assert refused("POST", components, repeated, 422) == (
        "body.fields: Value error, field names repeat: genre; give each one once"
    )
    assert refused("POST", components, {**OWN, "id": "storyTeller"}, 409).startswith(
        "component 'storyTeller' is shipped with the storyflow pack and cannot be changed or "
        "deleted; add one of your own under another id"
    )
    assert refused("PUT", f"{components}/storyTeller", body, 409).startswith(
        "component 'storyTeller' is shipped"
    )
    assert refused("DELETE", f"{components}/storyTeller", None, 409).startswith(
        "component 'storyTeller' is shipped"
    )
    assert refused("PUT", f"{components}/nothingHere", body, 404).startswith(
        "no component 'nothingHere'"
    )
    assert refused("DELETE", f"{components}/nothingHere", None, 404).startswith(
        "no component 'nothingHere'"
    )
    assert refused("GET", f"{components}/bad-id", None, 422).startswith(
        "path.component_id: String should match"
    )
    studio.ok("POST", components, OWN)
    assert refused("POST", components, OWN, 409).startswith("this app has a component 'noirTeller'")
    big = {**body, "api_config": {"x": "y" * 20_000}}
    assert refused("PUT", f"{components}/noirTeller", big, 422) == (
        "body.api_config: Value error, is over 16384 characters of JSON; send a smaller object"
    )
    # Nothing refused was stored.
    assert [c["id"] for c in studio.ok("GET", components)] == [*SEED_COMPONENTS, "noirTeller"]
