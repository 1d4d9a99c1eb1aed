"""POST /apps/{app_id}/flows reads YAML (`Content-Type: application/yaml` or `text/yaml`),
validated as JSON is; bad YAML is 422 with the line and column; YAML sent as JSON and a body
without the JSON content type get messages that say which header to send."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from tests.api.conftest import ASK_FLOW, Actor
from tests.api.test_auth import assert_error


@pytest.fixture
def owner(make_user: Any) -> tuple[Actor, str]:
    actor = make_user("alice")
    return actor, actor.create_app("yaml")


def post(actor: Actor, app: str, body: bytes | str, content_type: str | None) -> Any:
    headers = dict(actor.headers)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return actor.client.post(f"/api/v1/apps/{app}/flows", content=body, headers=headers)


ASK_YAML = yaml.safe_dump(ASK_FLOW, sort_keys=False)


@pytest.mark.parametrize("media", ["application/yaml", "text/yaml; charset=utf-8"])
def test_yaml_registers_like_json(owner: tuple[Actor, str], media: str) -> None:
    actor, app = owner
    created = post(actor, app, ASK_YAML, media)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "ask" and created.json()["version"] == 1
    # The same flow in JSON is the same definition: the same version.
    again = post(actor, app, json.dumps(ASK_FLOW), "application/json")
    assert again.status_code == 201 and again.json()["version"] == 1
    assert again.json()["definition"] == created.json()["definition"]


def test_bad_yaml_is_422_with_the_line_and_column(owner: tuple[Actor, str]) -> None:
    actor, app = owner
    bad = "name: ask\nnodes:\n  - id: a\n    type: [human\n"
    error = assert_error(post(actor, app, bad, "application/yaml"), 422, "invalid_input")
    assert error["message"].startswith("the request body is not valid YAML (line 5, column 1: ")
    assert error["details"] == {"line": 5, "column": 1}

    tabs = "name: ask\n\tnodes: []\n"
    error = assert_error(post(actor, app, tabs, "application/yaml"), 422, "invalid_input")
    assert "line 2, column 1" in error["message"]


def test_yaml_is_validated_as_json_is(owner: tuple[Actor, str]) -> None:
    actor, app = owner
    no_nodes = "name: broken\nedges: []\n"
    from_yaml = assert_error(post(actor, app, no_nodes, "application/yaml"), 422, "flow_invalid")
    as_json = json.dumps(yaml.safe_load(no_nodes))
    from_json = assert_error(post(actor, app, as_json, "application/json"), 422, "flow_invalid")
    assert from_yaml == from_json
    assert "nodes" in from_yaml["message"]

    # A list is not a flow, in YAML as in JSON.
    listed = assert_error(post(actor, app, "- a\n- b\n", "application/yaml"), 422, "invalid_input")
    assert listed == assert_error(
        post(actor, app, '["a", "b"]', "application/json"), 422, "invalid_input"
    )
    assert listed["message"] == "body: Input should be a valid dictionary"


def test_yaml_aliases_are_refused(owner: tuple[Actor, str]) -> None:
    actor, app = owner
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    error = assert_error(post(actor, app, bomb, "application/yaml"), 422, "invalid_input")
    assert "aliases (*name) are not accepted" in error["message"]
    assert "line 2, column" in error["message"]


def test_yaml_sent_as_json_says_to_use_the_yaml_content_type(owner: tuple[Actor, str]) -> None:
    actor, app = owner
    error = assert_error(post(actor, app, ASK_YAML, "application/json"), 422, "json_invalid")
    assert error["message"].startswith("the request body: not valid JSON (")
    assert error["message"].endswith(
        "; it looks like YAML: send YAML with the header Content-Type: application/yaml"
    )
    # Broken JSON that is no YAML mapping either gets no such hint.
    error = assert_error(post(actor, app, '{"name": ', "application/json"), 422, "json_invalid")
    assert "YAML" not in error["message"]


@pytest.mark.parametrize(
    ("media", "got"),
    [
        ("application/x-www-form-urlencoded", "Content-Type 'application/x-www-form-urlencoded'"),
        (None, "no Content-Type"),
        ("text/plain", "Content-Type 'text/plain'"),
    ],
)
def test_a_flow_without_the_json_content_type_is_415_naming_the_header(
    owner: tuple[Actor, str], media: str | None, got: str
) -> None:
    actor, app = owner
    error = assert_error(
        post(actor, app, json.dumps(ASK_FLOW), media), 415, "unsupported_media_type"
    )
    assert error["message"] == (
        f"this route reads JSON or YAML, and the request had {got}: send the header "
        "Content-Type: application/json (with curl: -H 'Content-Type: application/json'; curl "
        "-d alone sends application/x-www-form-urlencoded), or Content-Type: application/yaml "
        "for YAML"
    )
    assert error["details"] == {"accepted": ["application/json", "application/yaml"]}


def test_other_json_routes_answer_415_too(owner: tuple[Actor, str]) -> None:
    actor, _ = owner
    headers = {**actor.headers, "Content-Type": "application/x-www-form-urlencoded"}
    answer = actor.client.post("/api/v1/apps", content='{"name": "x"}', headers=headers)
    error = assert_error(answer, 415, "unsupported_media_type")
    assert "send the header Content-Type: application/json" in error["message"]
    assert all(a["name"] != "x" for a in actor.get("/api/v1/apps").json()["items"])
