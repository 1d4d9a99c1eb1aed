"""JSONBodyMiddleware (podium.api.jsonbody): which bodies it checks, the answer it gives, and
that a body it passes reaches the route whole (a real app over ASGI, no mocks)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from podium.api.bodylimit import BodyLimitMiddleware
from podium.api.jsonbody import JSONBodyMiddleware, is_json_media
from podium.jsonvalue import JSONLimits

DEEP = "[" * 5_000 + "]" * 5_000


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    seen: list[bytes] = []

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        body = await request.body()
        seen.append(body)
        return {"bytes": len(body)}

    app.add_middleware(JSONBodyMiddleware, limits=JSONLimits(max_depth=4))
    app.add_middleware(BodyLimitMiddleware, max_bytes=20_000)
    app.state.seen = seen
    return TestClient(app)


@pytest.mark.parametrize(
    ("media", "checked"),
    [
        (b"application/json", True),
        (b"Application/JSON; charset=utf-8", True),
        (b"application/merge-patch+json", True),
        (b"text/plain", False),
        (b"application/x-www-form-urlencoded", False),
        (b"multipart/form-data; boundary=x", False),
    ],
)
def test_json_media_types(media: bytes, checked: bool) -> None:
    assert is_json_media(media) is checked


@pytest.mark.parametrize(
    "headers",
    [{"Content-Type": "application/json"}, {"Content-Type": "application/merge-patch+json"}],
    ids=["json", "merge-patch"],
)
def test_a_deep_body_is_refused_before_the_route(
    client: TestClient, headers: dict[str, str]
) -> None:
    answer = client.post("/echo", content=DEEP, headers=headers)
    assert answer.status_code == 422
    assert answer.json() == {
        "error": {
            "code": "json_invalid",
            "message": "the request body: nested deeper than 4 levels",
            "details": {"path": "$", "setting": "PODIUM_MAX_JSON_DEPTH"},
        }
    }
    assert client.app.state.seen == []  # type: ignore[attr-defined]


def test_a_body_that_passes_reaches_the_route_whole(client: TestClient) -> None:
    body = b'{"a": [1, {"b": "x"}]}'
    answer = client.post("/echo", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200 and answer.json() == {"bytes": len(body)}
    assert client.app.state.seen == [body]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("headers", "got"),
    [
        ({"Content-Type": "text/plain"}, "Content-Type 'text/plain'"),
        (
            {"Content-Type": "application/x-www-form-urlencoded"},
            "Content-Type 'application/x-www-form-urlencoded'",
        ),
        ({}, "no Content-Type"),
    ],
    ids=["text", "form", "no type"],
)
def test_a_body_that_is_not_json_is_415_naming_the_header(
    client: TestClient, headers: dict[str, str], got: str
) -> None:
    answer = client.post("/echo", content=b'{"a": 1}', headers=headers)
    assert answer.status_code == 415
    error = answer.json()["error"]
    assert error["code"] == "unsupported_media_type"
    assert error["message"] == (
        f"this route reads JSON, and the request had {got}: send the header "
        "Content-Type: application/json (with curl: -H 'Content-Type: application/json'; "
        "curl -d alone sends application/x-www-form-urlencoded)"
    )
    assert error["details"] == {"accepted": ["application/json"]}
    assert client.app.state.seen == []  # type: ignore[attr-defined]


def test_a_request_without_a_body_needs_no_content_type(client: TestClient) -> None:
    for headers in ({}, {"Content-Type": "text/plain"}):
        assert client.post("/echo", headers=headers).status_code == 200


def test_yaml_is_415_on_a_route_that_reads_only_json(client: TestClient) -> None:
    answer = client.post("/echo", content=b"a: 1\n", headers={"Content-Type": "application/yaml"})
    assert answer.status_code == 415
    message = answer.json()["error"]["message"]
    assert message.startswith(
        "this route reads JSON, and the request had Content-Type 'application/yaml'"
    )
    assert "only POST /api/v1/apps/{app_id}/flows reads YAML" in message


def test_the_size_bound_comes_first(client: TestClient) -> None:
    big = "[" + "1," * 15_000 + "1]"
    answer = client.post("/echo", content=big, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"
