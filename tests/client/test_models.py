"""The client's models are the server's schemas: every endpoint the client calls is in the
server's OpenAPI document with the same method and path, answers the schema of the model the
client reads (same name, same fields) and takes the body the client sends."""

from __future__ import annotations

from functools import cache
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel

from podium.assembly import create_app
from podium.client import endpoints
from podium.client.models import ChatTurnPublic, EventPage, SessionPublic
from podium.config import Settings

ENDPOINTS = endpoints.all_endpoints()
# Routes that answer JSON or SSE by the request's Accept declare no JSON model; what the
# client reads from their JSON answer.
UNDECLARED = {
    ("POST", "/apps/{app_id}/agents/{name}/invoke"): ChatTurnPublic,
    ("GET", "/apps/{app_id}/events"): EventPage,
}
REF = "#/components/schemas/"


@cache
def openapi() -> dict[str, Any]:
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    return app.openapi()


def operation(endpoint: endpoints.Endpoint) -> dict[str, Any]:
    path = "/api/v1" + endpoint.path
    paths = openapi()["paths"]
    assert path in paths, f"the server has no path {path}"
    operations = paths[path]
    assert endpoint.method.lower() in operations, f"the server has no {endpoint.method} {path}"
    return dict(operations[endpoint.method.lower()])


def answer_refs(op: dict[str, Any]) -> tuple[str, set[str]] | None:
    """("one" | "list", the schema names) of the operation's 2xx JSON answer."""
    for status, response in op["responses"].items():
        if status.startswith("2") and "application/json" in response.get("content", {}):
            schema = response["content"]["application/json"]["schema"]
            if schema.get("type") == "array":
                return "list", {schema["items"]["$ref"].removeprefix(REF)}
            if "anyOf" in schema:
                return "one", {s["$ref"].removeprefix(REF) for s in schema["anyOf"] if "$ref" in s}
            if "$ref" in schema:
                return "one", {schema["$ref"].removeprefix(REF)}
            return None  # an untyped answer (`Any`)
    return None


def same_fields(model: type[BaseModel], name: str) -> None:
    """The component `name` of the OpenAPI document has the model's fields."""
    schemas = openapi()["components"]["schemas"]
    component = schemas.get(name) or schemas.get(f"{name}-Output") or schemas[f"{name}-Input"]
    ours = model.model_json_schema(by_alias=True)
    assert set(component["properties"]) == set(ours["properties"]), name
    assert set(component.get("required", [])) <= set(ours["properties"]), name


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_the_endpoint_is_the_servers_route(name: str) -> None:
    endpoint = ENDPOINTS[name]
    op = operation(endpoint)
    declared = answer_refs(op)
    response = endpoint.response
    if response is None:
        assert declared is None, f"{name}: the server answers {declared}, the client reads none"
    elif declared is None:
        assert UNDECLARED.get((endpoint.method, endpoint.path)) is response, name
    else:
        kind, names = declared
        model = get_args(response)[0] if get_origin(response) is list else response
        assert kind == ("list" if get_origin(response) is list else "one"), name
        assert model.__name__ in names, f"{name}: the server answers {names}, not {model}"
        same_fields(model, model.__name__)
    if endpoint.body is not None:
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert schema["$ref"].removeprefix(REF) == endpoint.body.__name__, name
        same_fields(endpoint.body, endpoint.body.__name__)


def test_a_diverging_model_is_caught() -> None:
    """The checks above fail for a model that is not the server's (a copy with a field
    left out)."""

    class SessionPublicCopy(BaseModel):
        id: str

    SessionPublicCopy.__name__ = "SessionPublic"
    with pytest.raises(AssertionError):
        same_fields(SessionPublicCopy, "SessionPublic")
    same_fields(SessionPublic, "SessionPublic")


def family(path: str) -> str:
    """`/apps/{app_id}/sessions/{session_id}` → `sessions`; `/auth/login` → `auth`."""
    parts = [p for p in path.split("/") if p and not p.startswith("{")]
    return parts[1] if parts[0] == "apps" and len(parts) > 1 else parts[0]


FAMILIES = {"auth", "apps", "flows", "sessions", "runs", "events", "artifacts", "agents"}
FAMILIES |= {"chat", "workflows", "memory", "knowledge", "packs", "api-keys", "members"}


def test_every_route_family_of_the_public_api_has_endpoints() -> None:
    families = {family(e.path) for e in ENDPOINTS.values()}
    assert families >= FAMILIES, FAMILIES - families
