"""The storyflow pack over HTTP, in-process on every backend, on the offline model: the
example flow (a character → initialPrompt → promptEnhancer → storyTeller → grammarFix →
compressor → textOutput) runs with every node in order, and a re-run from storyTeller with
cached outputs runs only it and its downstream nodes; the characters routes and their
refusals; ports, prompt versions, the compressor's threshold and the model chain."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import fast_settings
from tests.packs.conftest import STORYFLOW_MIGRATIONS, downgrade_pack, shipped_pack_specs

from podium.api.app import create_app
from podium.assembly import default_registry

PASSWORD = "correct horse battery"
PACK = Path(__file__).resolve().parents[2] / "src/podium/packs/storyflow"
EXAMPLE = json.loads((PACK / "flows/storyflow_story.json").read_text())
ORDER = ["character", "initial", "enhancer", "storyteller", "grammar", "compressor", "output"]
MIRA = {
    "name": "Mira",
    "description": "a young lighthouse keeper",
    "personality": "curious and brave",
    "appearance": "red scarf, salt in her hair",
    "voice": "quick, warm",
}
PROMPT = "a girl who finds a map in a bottle"


class Studio:
    """An app's admin calling the API."""

    def __init__(self, client: TestClient, token: str, app_id: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.app_id = app_id
        self.base = f"/api/v1/apps/{app_id}"
        self.pack = f"{self.base}/packs/storyflow"

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        return self.client.request(method, path, json=body, params=params, headers=self.headers)

    def ok(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.call(method, path, body, **params)
        assert 200 <= response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json() if response.content else None

    def run(self, flow: str | dict[str, Any], **input: Any) -> tuple[str, dict[str, Any]]:
        """Start a session on `flow` and wait for its run: (session id, the run with steps)."""
        session = self.ok("POST", f"{self.base}/sessions", {"flow": flow, "input": input})
        return session["id"], self.finished(session["run_id"])

    def finished(self, run_id: str) -> dict[str, Any]:
        self.ok("GET", f"{self.base}/runs/{run_id}/wait", timeout=20)
        run: dict[str, Any] = self.ok("GET", f"{self.base}/runs/{run_id}")
        return run


async def _create_admin(client: TestClient) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    await services.auth.create_user("root@example.com", "root", PASSWORD, is_admin=True)


@pytest.fixture
def studio(database_url: str) -> Iterator[Studio]:
    settings = fast_settings(
        database_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        rate_limit="100000/minute",
        packs=shipped_pack_specs(),
    )
    app = create_app(settings, workers=2, registry=default_registry(settings))
    with TestClient(app) as client:
        client.portal.call(_create_admin, client)  # type: ignore[union-attr]
        login = client.post("/api/v1/auth/login", json={"identifier": "root", "password": PASSWORD})
        token = login.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        app_id = client.post("/api/v1/apps", json={"name": "tales"}, headers=headers).json()["id"]
        studio = Studio(client, token, app_id)
        refused = studio.call("GET", f"{studio.pack}/characters")
        assert refused.status_code == 404
        assert refused.json()["error"]["message"] == (
            f"pack 'storyflow' is not enabled for this app; PUT /api/v1/apps/{app_id}/packs/"
            "storyflow"
        )
        enabled = studio.ok("PUT", f"{studio.base}/packs/storyflow")
        assert enabled["flows"] == ["storyflow_story"]
        yield studio
    if not database_url.startswith("sqlite"):
        downgrade_pack(database_url, STORYFLOW_MIGRATIONS, "storyflow")


def node_steps(run: dict[str, Any]) -> list[tuple[str, str]]:
    return [(step["node_id"], step["status"]) for step in run["steps"]]


def test_the_example_runs_offline_and_a_rerun_from_storyteller_runs_only_it_and_downstream(
    studio: Studio,
) -> None:
    mira = studio.ok("POST", f"{studio.pack}/characters", MIRA)
    session_id, run = studio.run("storyflow_story", prompt=PROMPT)
    assert run["status"] == "succeeded", run["error"]
    assert node_steps(run) == [(node, "succeeded") for node in ORDER]
    outputs = {step["node_id"]: step["output"][step["node_id"]] for step in run["steps"]}

    # The character, as stored, reaches the prompt and the story (persona injection).
    assert outputs["character"]["characters"] == [
        {
            key: mira[key]
            for key in ("id", "name", "description", "personality", "appearance", "voice")
        }
    ]
    persona = (
        "- Mira: a young lighthouse keeper Personality: curious and brave. Appearance: red "
        "scarf, salt in her hair. Voice: quick, warm."
    )
    # The offline model answers with the prompt it was given: each node's prompt, from the
    # prompt library, holds the text of the node before it.
    initial = outputs["initial"]
    assert initial["prompt"] == "initialPrompt/v1" and initial["model"] == "offline/echo"
    assert initial["text"].startswith("Rewrite this prompt so that it keeps the characters")
    assert persona in initial["text"] and initial["text"].endswith(f"Prompt: {PROMPT}")
    enhanced = outputs["enhancer"]["text"]
    assert enhanced.startswith("Enhance this prompt for a creative writer")
    assert "Notes to follow: a bedtime story" in enhanced
    assert enhanced.endswith(f"Prompt: {initial['text']}")
    story = outputs["storyteller"]["text"]
    assert story.startswith("Tell a short story (300 words at most) in the fairy tale genre")
    assert persona in story and story.endswith(f"Prompt: {enhanced}")
    grammar = outputs["grammar"]["text"]
    assert grammar.endswith(f"Text: {story}") and outputs["grammar"]["prompt"] == "grammarFix/v1"
    # Under 2,500 characters: the compressor passes the text through without a model.
    compressed = outputs["compressor"]
    assert len(grammar) < 2500
    assert compressed == {
        "text": grammar,
        "compressed": False,
        "model": None,
        "prompt": None,
        "input_chars": len(grammar),
        "threshold_chars": 2500,
    }
    assert run["output"] == {"output": {"text": grammar}}

    # Re-run from storyTeller with the outputs the editor kept: the nodes upstream take them
    # (cached), storyTeller and everything after it run again.
    cached = {node: {node: outputs[node]} for node in ("character", "initial", "enhancer")}
    cached["enhancer"]["enhancer"] = {**outputs["enhancer"], "text": "An edited prompt."}
    queued = studio.ok(
        "POST",
        f"{studio.base}/sessions/{session_id}/runs",
        {"trigger_node_id": "storyteller", "cached_outputs": cached},
    )
    rerun = studio.finished(queued["run_id"])
    assert rerun["status"] == "succeeded", rerun["error"]
    assert node_steps(rerun) == [
        ("character", "cached"),
        ("initial", "cached"),
        ("enhancer", "cached"),
        ("storyteller", "succeeded"),
        ("grammar", "succeeded"),
        ("compressor", "succeeded"),
        ("output", "succeeded"),
    ]
    new_story = next(
        s["output"]["storyteller"]["text"] for s in rerun["steps"] if s["node_id"] == "storyteller"
    )
    assert new_story.endswith("Prompt: An edited prompt.") and persona in new_story
    assert rerun["output"]["output"]["text"].endswith(f"Text: {new_story}")


def inline(
    name: str, nodes: list[dict[str, Any]], edges: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {"name": name, "nodes": nodes, "edges": edges, **extra}


def chain(*pairs: tuple[str, str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"id": node_id, "type": node_type, "config": config} for node_id, node_type, config in pairs
    ]


def test_the_compressor_compresses_only_over_its_threshold(studio: Studio) -> None:
    nodes = chain(
        ("start", "initialPrompt", {}),
        ("squeeze", "compressor", {"threshold_chars": 40}),
        ("out", "textOutput", {}),
    )
    edges = [{"source": "start", "target": "squeeze"}, {"source": "squeeze", "target": "out"}]
    flow = inline("squeeze", nodes, edges)
    _, short = studio.run(flow, prompt="short enough")
    squeezed = short["steps"][1]["output"]["squeeze"]
    assert (squeezed["compressed"], squeezed["text"], squeezed["model"]) == (
        False,
        "short enough",
        None,
    )

    long = "a long winding tale " * 5
    _, run = studio.run(flow, prompt=long)
    squeezed = run["steps"][1]["output"]["squeeze"]
    assert squeezed["compressed"] is True and squeezed["model"] == "offline/echo"
    assert squeezed["input_chars"] == len(long) and squeezed["threshold_chars"] == 40
    assert squeezed["text"] == (
        "Compress the text to about 50 characters. Keep every character, event and name. "
        f"Answer with the compressed text only.\n\nText: {long.strip()}"
    )


def test_the_model_comes_from_the_chain(studio: Studio) -> None:
    def story_model(flow_model: str | None, node_model: str | None) -> tuple[str, Any]:
        config = {"model": node_model} if node_model else {}
        nodes = chain(("start", "initialPrompt", {}), ("tell", "storyTeller", config))
        flow = inline("chain", nodes, [{"source": "start", "target": "tell"}])
        if flow_model:
            flow["default_model"] = flow_model
        _, run = studio.run(flow, prompt="p")
        if run["status"] != "succeeded":
            return run["status"], run["error"]
        return run["status"], run["steps"][1]["output"]["tell"]["model"]

    assert story_model(None, None) == ("succeeded", "offline/echo")  # PODIUM_DEFAULT_MODEL
    assert story_model("nowhere/model-f", "offline/echo") == ("succeeded", "offline/echo")
    status, error = story_model("nowhere/model-f", None)
    assert status == "failed" and "nowhere" in error
    studio.ok("PATCH", studio.base, {"default_model": "elsewhere/model-a"})
    status, error = story_model(None, None)
    assert status == "failed" and "elsewhere" in error
    assert story_model("offline/echo", None) == ("succeeded", "offline/echo")


@pytest.mark.parametrize(
    ("nodes", "edges", "problem"),
    [
        (
            [("c", "consistentCharacter", {"character_names": ["Mira"]}), ("t", "storyTeller", {})],
            [{"source": "c", "target": "t", "target_port": "text"}],
            "edge c → t: consistentCharacter sends 'adapter', which cannot go into the 'text' "
            "port of storyTeller",
        ),
        (
            [("p", "initialPrompt", {}), ("g", "grammarFix", {})],
            [{"source": "p", "target": "g", "target_port": "adapter"}],
            "edge p → g: grammarFix has no input port 'adapter' (its inputs: text)",
        ),
        (
            [("c", "consistentCharacter", {"character_names": ["Mira"]}), ("t", "storyTeller", {})],
            [{"source": "c", "target": "t"}],
            "node 't' (storyTeller) needs a text input: an edge into it from a node that makes "
            'text (target_port "text")',
        ),
        (
            [("p", "initialPrompt", {}), ("t", "storyTeller", {"prompt_version": "v9"})],
            [{"source": "p", "target": "t"}],
            "node 't' config.prompt_version: there is no prompt storyTeller/v9; the versions "
            "are v1",
        ),
        (
            [("p", "initialPrompt", {}), ("t", "translator", {"language": "xx"})],
            [{"source": "p", "target": "t"}],
            "node 't' config.language: Value error, unknown language 'xx'; use one of",
        ),
        (
            [("c", "consistentCharacter", {})],
            [],
            "node 'c' config: Value error, name at least one character: character_ids or "
            "character_names",
        ),
        (
            [("s", "sceneBuilder", {"mood": "grumpy"})],
            [],
            "node 's' config: Value error, mood 'grumpy' is not a scene block; use one of",
        ),
        (
            [("p", "initialPrompt", {"temprature": 1})],
            [],
            "node 'p' config.temprature: Extra inputs are not permitted",
        ),
    ],
)
def test_a_flow_with_a_wrong_port_or_config_is_refused_naming_it(
    studio: Studio,
    nodes: list[tuple[str, str, dict[str, Any]]],
    edges: list[dict[str, Any]],
    problem: str,
) -> None:
    response = studio.call(
        "POST", f"{studio.base}/sessions", {"flow": inline("bad", chain(*nodes), edges)}
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "flow_invalid"
    assert any(p.startswith(problem) for p in error["details"]["problems"]), error


def test_a_scene_and_a_translation(studio: Studio) -> None:
    studio.ok("POST", f"{studio.pack}/characters", MIRA)
    nodes = chain(
        ("mira", "consistentCharacter", {"character_names": ["Mira"]}),
        (
            "scene",
            "sceneBuilder",
            {"location": "a lighthouse", "mood": "eerie", "time_of_day": "night"},
        ),
        ("start", "initialPrompt", {"text": "the lamp goes out"}),
        ("tell", "storyTeller", {"length": "long"}),
        ("fr", "translator", {"language": "fr"}),
        ("out", "textOutput", {}),
    )
    edges = [
        {"source": "mira", "target": "scene"},
        {"source": "scene", "target": "tell"},
        {"source": "start", "target": "tell"},
        {"source": "tell", "target": "fr"},
        {"source": "fr", "target": "out"},
    ]
    _, run = studio.run(inline("scene", nodes, edges))
    assert run["status"] == "succeeded", run["error"]
    outputs = {s["node_id"]: s["output"][s["node_id"]] for s in run["steps"]}
    assert outputs["scene"]["prompt"] == (
        "Scene: a lighthouse. The tone is eerie; something is not quite right. It is night: "
        "lamps, stars and sounds that carry. Present: Mira."
    )
    story = outputs["tell"]["text"]
    assert story.startswith("Tell a long story (1500 words at most) from this prompt.")
    assert "- Mira: a young lighthouse keeper" in story and outputs["scene"]["prompt"] in story
    assert outputs["fr"]["text"].startswith("Translate the text into French (fr).")


def test_a_node_naming_a_missing_character_fails_saying_so(studio: Studio) -> None:
    nodes = chain(
        ("who", "consistentCharacter", {"character_names": ["Nobody"]}),
        ("start", "initialPrompt", {"text": "x"}),
    )
    _, run = studio.run(inline("missing", nodes, [{"source": "who", "target": "start"}]))
    assert run["status"] == "failed"
    assert "this app has no character 'Nobody'; create it with POST " in run["error"]
    _, run = studio.run(inline("noprompt", chain(("start", "initialPrompt", {})), []))
    assert run["status"] == "failed"
    assert (
        "node 'start' (initialPrompt) has no prompt: set config.text or start the run with the "
        'input {"prompt": "..."}'
    ) in run["error"]


# --- characters ------------------------------------------------------------------------------


def test_characters_create_read_list_update_delete(studio: Studio) -> None:
    chars = f"{studio.pack}/characters"
    mira = studio.ok("POST", chars, {**MIRA, "metadata": {"age": 12}})
    assert mira["id"].startswith("chr_") and mira["metadata"] == {"age": 12}
    assert studio.ok("GET", f"{chars}/{mira['id']}") == mira
    bo = studio.ok("POST", chars, {"name": "Bo"})
    assert [c["name"] for c in studio.ok("GET", chars)] == ["Bo", "Mira"]
    assert [c["name"] for c in studio.ok("GET", chars, limit=1, after="Bo")] == ["Mira"]
    changed = studio.ok("PATCH", f"{chars}/{bo['id']}", {"voice": "low", "description": None})
    assert (changed["name"], changed["voice"], changed["description"]) == ("Bo", "low", None)
    taken = studio.call("PATCH", f"{chars}/{bo['id']}", {"name": "Mira"})
    assert taken.status_code == 409
    assert taken.json()["error"]["message"].startswith(
        "a character named 'Mira' exists in this app"
    )
    again = studio.call("POST", chars, {"name": "Mira"})
    assert again.status_code == 409
    assert studio.call("DELETE", f"{chars}/{bo['id']}").status_code == 204
    gone = studio.call("GET", f"{chars}/{bo['id']}")
    assert gone.status_code == 404
    assert gone.json()["error"]["message"] == (
        f"no character {bo['id']!r} in this app; list them with GET /packs/storyflow/characters"
    )
    assert studio.call("DELETE", f"{chars}/{bo['id']}").status_code == 404
    assert studio.call("PATCH", f"{chars}/{bo['id']}", {"voice": "x"}).status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "body.name: Field required"),
        (
            {"name": "  "},
            "body.name: Value error, must not be empty; send some text or leave the field out",
        ),
        ({"name": "a\nb"}, "body.name: String should match pattern"),
        ({"name": "x" * 101}, "body.name: String should have at most 100 characters"),
        (
            {"name": "Mo", "voice": "v" * 501},
            "body.voice: String should have at most 500 characters",
        ),
        ({"name": "Mo", "age": 3}, "body.age: Extra inputs are not permitted"),
        ({"name": "Mo", "metadata": [1]}, "body.metadata: Input should be a valid dictionary"),
        ({"name": "Mo", "personality": ""}, "body.personality: Value error, must not be empty"),
    ],
)
def test_a_bad_character_is_refused_with_its_reason(
    studio: Studio, body: dict[str, Any], message: str
) -> None:
    response = studio.call("POST", f"{studio.pack}/characters", body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith(message)
    assert studio.ok("GET", f"{studio.pack}/characters") == []


def test_character_patch_and_list_refusals(studio: Studio) -> None:
    mira = studio.ok("POST", f"{studio.pack}/characters", MIRA)
    where = f"{studio.pack}/characters/{mira['id']}"
    refused = studio.call("PATCH", where, {"name": None})
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == (
        "body.name: Value error, a character keeps its name; send a new one or leave it out"
    )
    assert studio.call("PATCH", where, {"mood": "x"}).status_code == 422
    assert studio.call("GET", f"{studio.pack}/characters", params=None, limit=0).status_code == 422
    assert studio.call("GET", f"{studio.pack}/characters", limit=501).status_code == 422
    assert studio.ok("GET", where) == mira


def test_the_caps_on_characters_and_components_are_clear_422s(database_url: str) -> None:
    settings = fast_settings(
        database_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        packs=shipped_pack_specs(),
        storyflow_max_characters=1,
        storyflow_max_components=1,
    )
    app = create_app(settings, workers=1, registry=default_registry(settings))
    try:
        with TestClient(app) as client:
            client.portal.call(_create_admin, client)  # type: ignore[union-attr]
            login = client.post(
                "/api/v1/auth/login", json={"identifier": "root", "password": PASSWORD}
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            app_id = client.post("/api/v1/apps", json={"name": "cap"}, headers=headers).json()["id"]
            base = f"/api/v1/apps/{app_id}"
            assert client.put(f"{base}/packs/storyflow", headers=headers).status_code == 200
            chars = f"{base}/packs/storyflow/characters"
            assert client.post(chars, json={"name": "A"}, headers=headers).status_code == 201
            over = client.post(chars, json={"name": "B"}, headers=headers)
            assert over.status_code == 422
            error = over.json()["error"]
            assert error["code"] == "limit_too_high"
            assert error["details"] == {"setting": "PODIUM_STORYFLOW_MAX_CHARACTERS", "cap": 1}
            assert error["message"].startswith("this app has 1 characters, the cap")
            components = f"{base}/packs/storyflow/components"
            own = {"node_type": "template", "name": "Mine", "fields": []}
            first = client.post(components, json={**own, "id": "mine"}, headers=headers)
            assert first.status_code == 201, first.text
            over = client.post(components, json={**own, "id": "more"}, headers=headers)
            assert over.status_code == 422
            error = over.json()["error"]
            assert error["details"] == {"setting": "PODIUM_STORYFLOW_MAX_COMPONENTS", "cap": 1}
            assert error["message"].startswith("this app has 1 components of its own, the cap")
    finally:
        if not database_url.startswith("sqlite"):
            downgrade_pack(database_url, STORYFLOW_MIGRATIONS, "storyflow")


def test_the_example_flow_file_is_valid_and_keeps_the_editor_s_keys() -> None:
    from podium.assembly import read_flow_file

    settings = fast_settings(packs=shipped_pack_specs())
    flow, graph = read_flow_file(PACK / "flows/storyflow_story.json", settings)
    assert graph.order == ORDER
    definition = flow.definition()
    assert definition["viewport"] == {"x": 0, "y": 0, "zoom": 1}
    assert definition["edges"][0]["target_port"] == "adapter"
    assert copy.deepcopy(EXAMPLE)["nodes"][0]["position"] == definition["nodes"][0]["position"]
