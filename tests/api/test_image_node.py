"""The `image` node: a flow draws its prompt from the state and stores the generated images
(here from a fake Fireworks-style server at the operator's PODIUM_FIREWORKS_BASE_URL); a bad
size is refused when the flow is registered, and a provider's error fails the node naming it."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.api.conftest import Actor, api_settings

from podium.config import Settings
from support.fake_images import TINY_JPEG, FakeImages

WAIT = {"timeout": 20}


def flow(**image: Any) -> dict[str, Any]:
    config = {"prompt": "{{ idea }} at dawn", "size": "16:9", "seed": 5, **image}
    return {
        "name": "draw",
        "nodes": [
            {
                "id": "idea",
                "type": "template",
                "config": {"template": "a fox", "output_key": "idea"},
            },
            {"id": "draw", "type": "image", "config": config},
        ],
        "edges": [{"source": "idea", "target": "draw"}],
    }


@pytest.fixture
def images() -> Iterator[FakeImages]:
    with FakeImages(api_key="fw-key") as fake:
        yield fake


@pytest.fixture
def api_config(database_url: str, images: FakeImages) -> Settings:
    return api_settings(
        database_url, fireworks_base_url=images.base_url, fireworks_api_key="fw-key"
    )


def run(admin: Actor, definition: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    base = f"/api/v1/apps/{admin.create_app('pictures')}"
    session = admin.post(f"{base}/sessions", {"flow": definition})
    assert session.status_code == 201, session.text
    run = admin.get(f"{base}/runs/{session.json()['run_id']}/wait", params=WAIT).json()
    return base, run


def test_a_flow_generates_an_image(admin: Actor, images: FakeImages) -> None:
    base, ran = run(admin, flow())
    assert ran["status"] == "succeeded", ran
    state = admin.get(f"{base}/sessions/{ran['session_id']}").json()["state"]
    assert state["images"] == [
        {"mime_type": "image/jpeg", "base64": base64.b64encode(TINY_JPEG).decode(), "seed": 5}
    ]
    (received,) = images.requests
    assert received.body == {"prompt": "a fox at dawn", "aspect_ratio": "16:9", "seed": 5}
    assert received.headers["authorization"] == "Bearer fw-key"


def test_a_provider_error_fails_the_node_naming_the_provider(
    admin: Actor, images: FakeImages
) -> None:
    images.reply_error(400)
    _, ran = run(admin, flow())
    assert ran["status"] == "failed"
    assert ran["error"] == (
        "node 'draw' failed: ProviderError: provider 'fireworks', model 'flux-1-schnell-fp8' "
        "(HTTP 400): Bad Request"
    )


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ({"size": "1000x1"}, "node 'draw' config.size: size '1000x1' is not an image size"),
        ({"model": "openai/dall-e-3"}, "node 'draw' config.model: image model 'openai/dall-e-3'"),
        ({"prompt": "{{ idea "}, "node 'draw' config.prompt: template syntax error"),
    ],
)
def test_a_bad_image_node_is_refused_when_registered(
    admin: Actor, image: dict[str, Any], problem: str
) -> None:
    base = f"/api/v1/apps/{admin.create_app('pictures')}"
    refused = admin.post(f"{base}/flows", flow(**image))
    assert refused.status_code == 422
    problems = refused.json()["error"]["details"]["problems"]
    assert any(p.startswith(problem) for p in problems), problems


def test_the_documented_example_runs(admin: Actor, images: FakeImages) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "providers.md").read_text()
    (block,) = re.findall(r"^```json\n(.*?)^```$", text, re.S | re.M)
    base, ran = run(admin, json.loads(block))
    assert ran["status"] == "succeeded", ran
    state = admin.get(f"{base}/sessions/{ran['session_id']}").json()["state"]
    assert [image["seed"] for image in state["images"]] == [7]
    assert images.requests[0].body == {
        "prompt": "a red fox in the snow, woodcut",
        "aspect_ratio": "16:9",
        "seed": 7,
    }


def test_more_images_than_the_cap_are_refused_when_registered(admin: Actor) -> None:
    base = f"/api/v1/apps/{admin.create_app('pictures')}"
    refused = admin.post(f"{base}/flows", flow(count=5))
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "limit_too_high"
    assert error["details"]["setting"] == "PODIUM_IMAGE_MAX_COUNT"
    assert error["message"].startswith(
        "node 'draw' config.count 5 is over the server cap of 4 (PODIUM_IMAGE_MAX_COUNT)"
    )
