"""The component catalogue as data (seed 004's agentic_components with their fields, ports,
API config and output schema): `storyflow_components` holds the 13 shipped components
(seeded at upgrade from `components.json`), `storyflow_app_components` each app's own.

A component is what a visual editor's palette shows; its `node_type` is what runs. A
component must name an installed node type and only ports that type has
(`consistency_problems`), both for the shipped ones (tests/packs/test_storyflow_catalogue.py)
and for those an app's admins add.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from podium import jsonvalue
from podium.errors import Conflict, InvalidInput, LimitTooHigh, NotFound
from podium.storage.script import Json, Row, Script, all_rows, execute, loads, one

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from podium.engine.registry import Registry

TABLE = "storyflow_components"
APP_TABLE = "storyflow_app_components"
COMPONENTS_FILE = Path(__file__).parent / "components.json"
COMPONENT_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
PORT_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,31}$"
JSON_COLUMNS = ("fields", "ports", "api_config", "output_schema")


@functools.cache
def shipped() -> tuple[dict[str, Any], ...]:
    """The shipped components, in palette order."""
    data: list[dict[str, Any]] = json.loads(COMPONENTS_FILE.read_text(encoding="utf-8"))
    return tuple(data)


# --- what an app's admins send -------------------------------------------------------------


class Port(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=PORT_ID_PATTERN, description="the node type's port")
    label: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
    kind: str = Field(default="text", pattern=r"^[a-z_]{1,32}$")


class Ports(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: list[Port] = Field(default_factory=list, max_length=16)
    outputs: list[Port] = Field(default_factory=list, max_length=16)


class ComponentField(BaseModel):
    """One field of the editor's form for the node: `name` is the config key it sets."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    label: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
    type: str = Field(pattern=r"^[a-z_]{1,32}$", description="text, textarea, number, select…")
    required: bool = False
    default: Any = None
    options: list[str | int | float] | None = Field(default=None, max_length=200)
    placeholder: str | None = Field(default=None, max_length=200)
    min: float | None = None
    max: float | None = None


class ComponentBody(BaseModel):
    """An app's own component (`PUT /components/{id}` replaces it whole)."""

    model_config = ConfigDict(extra="forbid")

    node_type: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,128}$", description="the type it runs")
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
    category: str = Field(default="custom", pattern=r"^[a-z_]{1,32}$")
    description: str = Field(default="", max_length=2000)
    fields: list[ComponentField] = Field(default_factory=list, max_length=64)
    ports: Ports = Field(default_factory=Ports)
    api_config: dict[str, Any] = Field(default_factory=dict)
    output_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})

    @field_validator("api_config", "output_schema")
    @classmethod
    def json_object(cls, value: dict[str, Any]) -> dict[str, Any]:
        jsonvalue.check_value(value)
        if len(json.dumps(value)) > 16_384:
            raise ValueError("is over 16384 characters of JSON; send a smaller object")
        return value

    @field_validator("fields")
    @classmethod
    def unique_fields(cls, value: list[ComponentField]) -> list[ComponentField]:
        names = [f.name for f in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"field names repeat: {', '.join(repeated)}; give each one once")
        return value


class ComponentCreate(ComponentBody):
    id: str = Field(pattern=COMPONENT_ID_PATTERN, description="unique in the app's catalogue")


# --- consistency -----------------------------------------------------------------------------


def consistency_problems(component: dict[str, Any], registry: Registry) -> list[str]:
    """What keeps a component from running: a node type that is not installed, a port or a
    field the type does not have. [] when it is consistent."""
    cid, type_name = component["id"], component["node_type"]
    node_type = registry.node_types.get(type_name)
    if node_type is None:
        return [
            f"component {cid!r} names node type {type_name!r}, which is not installed; use one "
            f"of {', '.join(registry.node_type_names())}"
        ]
    problems = []
    for direction in ("inputs", "outputs"):
        has = tuple(getattr(node_type, direction))
        for port in component["ports"].get(direction, []):
            if port["id"] not in has:
                problems.append(
                    f"component {cid!r}: node type {type_name!r} has no {direction[:-1]} port "
                    f"{port['id']!r} (its {direction}: {', '.join(has) or 'none'})"
                )
    properties = node_type.config_model.model_json_schema().get("properties", {})
    for field in component.get("fields", []):
        if field["name"] not in properties:
            problems.append(
                f"component {cid!r}: field {field['name']!r} is not a config key of node type "
                f"{type_name!r} (its keys: {', '.join(properties) or 'none'})"
            )
    return problems


def check_component(component: dict[str, Any], registry: Registry) -> None:
    problems = consistency_problems(component, registry)
    if problems:
        raise InvalidInput("; ".join(problems), details={"problems": problems})


# --- seeding at upgrade (the pack's migrations call this) -------------------------------------


def seed_shipped(connection: Connection) -> int:
    """Insert or update the shipped components and delete those no longer shipped: running
    it again changes nothing. Returns how many are shipped."""
    from sqlalchemy import text

    postgres = connection.dialect.name == "postgresql"

    def value(name: str) -> str:
        return f"CAST(:{name} AS JSONB)" if postgres and name in JSON_COLUMNS else f":{name}"

    columns = ("node_type", "name", "category", "description", *JSON_COLUMNS, "position")
    now = time.time()
    ids = []
    for position, component in enumerate(shipped()):
        ids.append(component["id"])
        params: dict[str, Any] = {
            "component_id": component["id"],
            **{c: component[c] for c in ("node_type", "name", "category", "description")},
            **{c: json.dumps(component[c], separators=(",", ":")) for c in JSON_COLUMNS},
            "position": position,
            "now": now,
        }
        found = connection.execute(
            text(f"SELECT 1 FROM {TABLE} WHERE component_id = :component_id"), params
        ).first()
        if found is None:
            connection.execute(
                text(
                    f"INSERT INTO {TABLE} (component_id, {', '.join(columns)}, created_at, "
                    f"updated_at) VALUES (:component_id, {', '.join(value(c) for c in columns)}, "
                    ":now, :now)"
                ),
                params,
            )
        else:
            assignments = ", ".join(f"{c} = {value(c)}" for c in columns)
            connection.execute(
                text(
                    f"UPDATE {TABLE} SET {assignments}, updated_at = :now "
                    "WHERE component_id = :component_id"
                ),
                params,
            )
    for (component_id,) in connection.execute(text(f"SELECT component_id FROM {TABLE}")).all():
        if component_id not in ids:
            connection.execute(
                text(f"DELETE FROM {TABLE} WHERE component_id = :id"), {"id": component_id}
            )
    return len(ids)


# --- the app's catalogue (storage scripts) -----------------------------------------------------


def _component(row: Row, source: str) -> dict[str, Any]:
    return {
        "id": row["component_id"],
        "source": source,
        "node_type": row["node_type"],
        "name": row["name"],
        "category": row["category"],
        "description": row["description"],
        **{c: loads(row[c]) for c in JSON_COLUMNS},
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _missing(component_id: str) -> NotFound:
    return NotFound(
        f"no component {component_id[:64]!r} in this app's catalogue; list them with "
        "GET /packs/storyflow/components"
    )


def _shipped_read_only(component_id: str) -> Conflict:
    return Conflict(
        f"component {component_id!r} is shipped with the storyflow pack and cannot be changed "
        "or deleted; add one of your own under another id (POST /packs/storyflow/components)",
        details={"component": component_id, "source": "shipped"},
    )


def list_components(app_id: str) -> Script:
    """The shipped components (in palette order), then the app's own (by id)."""
    shipped_rows = yield all_rows(f"SELECT * FROM {TABLE} ORDER BY position, component_id")
    own = yield all_rows(
        f"SELECT * FROM {APP_TABLE} WHERE app_id = ? ORDER BY component_id", app_id
    )
    return [_component(r, "shipped") for r in shipped_rows] + [_component(r, "app") for r in own]


def get_component(app_id: str, component_id: str) -> Script:
    row = yield one(f"SELECT * FROM {TABLE} WHERE component_id = ?", component_id)
    if row is not None:
        return _component(row, "shipped")
    row = yield one(
        f"SELECT * FROM {APP_TABLE} WHERE app_id = ? AND component_id = ?", app_id, component_id
    )
    if row is None:
        raise _missing(component_id)
    return _component(row, "app")


def _values(body: dict[str, Any]) -> list[Any]:
    return [
        body["node_type"],
        body["name"],
        body["category"],
        body["description"],
        *(Json(body[c]) for c in JSON_COLUMNS),
    ]


def create_component(app_id: str, component_id: str, body: dict[str, Any], cap: int) -> Script:
    if (yield one(f"SELECT 1 AS x FROM {TABLE} WHERE component_id = ?", component_id)):
        raise _shipped_read_only(component_id)
    mine = yield one(
        f"SELECT 1 AS x FROM {APP_TABLE} WHERE app_id = ? AND component_id = ?",
        app_id,
        component_id,
    )
    if mine is not None:
        raise Conflict(
            f"this app has a component {component_id!r}; change it with PUT "
            f"/packs/storyflow/components/{component_id} or choose another id",
            details={"component": component_id},
        )
    count = yield one(f"SELECT COUNT(*) AS n FROM {APP_TABLE} WHERE app_id = ?", app_id)
    if count["n"] >= cap:
        raise LimitTooHigh(
            f"this app has {count['n']} components of its own, the cap "
            "(PODIUM_STORYFLOW_MAX_COMPONENTS); delete some or ask the operator to raise it",
            details={"setting": "PODIUM_STORYFLOW_MAX_COMPONENTS", "cap": cap},
        )
    now = time.time()
    yield execute(
        f"INSERT INTO {APP_TABLE} (app_id, component_id, node_type, name, category, "
        "description, fields, ports, api_config, output_schema, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        app_id,
        component_id,
        *_values(body),
        now,
        now,
    )
    return (yield from get_component(app_id, component_id))


def _own(app_id: str, component_id: str) -> Script:
    if (yield one(f"SELECT 1 AS x FROM {TABLE} WHERE component_id = ?", component_id)):
        raise _shipped_read_only(component_id)
    row = yield one(
        f"SELECT 1 AS x FROM {APP_TABLE} WHERE app_id = ? AND component_id = ?",
        app_id,
        component_id,
    )
    if row is None:
        raise _missing(component_id)
    return None


def replace_component(app_id: str, component_id: str, body: dict[str, Any]) -> Script:
    yield from _own(app_id, component_id)
    yield execute(
        f"UPDATE {APP_TABLE} SET node_type = ?, name = ?, category = ?, description = ?, "
        "fields = ?, ports = ?, api_config = ?, output_schema = ?, updated_at = ? "
        "WHERE app_id = ? AND component_id = ?",
        *_values(body),
        time.time(),
        app_id,
        component_id,
    )
    return (yield from get_component(app_id, component_id))


def delete_component(app_id: str, component_id: str) -> Script:
    yield from _own(app_id, component_id)
    yield execute(
        f"DELETE FROM {APP_TABLE} WHERE app_id = ? AND component_id = ?", app_id, component_id
    )
    return None
