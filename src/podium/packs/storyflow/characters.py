"""Characters (`storyflow_characters`, the seed's `consistent_characters`): reusable personas
of an app, read by the consistentCharacter and sceneBuilder nodes. Storage scripts filter
every statement on `app_id`."""

from __future__ import annotations

import os
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from podium import jsonvalue
from podium.errors import Conflict, InvalidInput, LimitTooHigh, NotFound
from podium.ids import ulid_string
from podium.storage.script import Json, Row, Script, all_rows, execute, loads, one

TABLE = "storyflow_characters"
NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"
MAX_NAME = 100
MAX_TEXT = 2000
MAX_VOICE = 500
DEFAULT_PAGE = 100
MAX_PAGE = 500
TEXT_FIELDS = ("description", "personality", "appearance", "voice")


def new_character_id() -> str:
    return f"chr_{ulid_string(time.time_ns() // 1_000_000, int.from_bytes(os.urandom(10), 'big'))}"


def _not_blank(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise ValueError("must not be empty; send some text or leave the field out")
    return value


class CharacterFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=MAX_TEXT)
    personality: str | None = Field(default=None, max_length=MAX_TEXT)
    appearance: str | None = Field(default=None, max_length=MAX_TEXT)
    voice: str | None = Field(default=None, max_length=MAX_VOICE)
    metadata: dict[str, Any] | None = Field(default=None, description="any JSON object")

    @field_validator("description", "personality", "appearance", "voice")
    @classmethod
    def text_not_blank(cls, value: str | None) -> str | None:
        return _not_blank(value)

    @field_validator("metadata")
    @classmethod
    def metadata_is_json(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        jsonvalue.check_value(value, "metadata")
        return value


class CharacterCreate(CharacterFields):
    """A character as `POST /characters` takes it."""

    name: str = Field(max_length=MAX_NAME, pattern=NAME_PATTERN, description="unique in the app")

    @field_validator("name")
    @classmethod
    def name_not_blank(cls, value: str) -> str:
        checked = _not_blank(value)
        assert checked is not None
        return checked


class CharacterPatch(CharacterFields):
    """`PATCH /characters/{id}`: the fields sent are changed (null clears one)."""

    name: str | None = Field(default=None, max_length=MAX_NAME, pattern=NAME_PATTERN)

    @field_validator("name")
    @classmethod
    def name_not_blank(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("a character keeps its name; send a new one or leave it out")
        return _not_blank(value)


def _character(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        **{key: row[key] for key in TEXT_FIELDS},
        "metadata": loads(row["metadata"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _missing(character_id: str) -> NotFound:
    return NotFound(
        f"no character {character_id[:60]!r} in this app; list them with "
        "GET /packs/storyflow/characters"
    )


def _name_taken(name: str) -> Conflict:
    return Conflict(
        f"a character named {name!r} exists in this app; choose another name or change that "
        "one (PATCH /packs/storyflow/characters/{id})",
        details={"name": name},
    )


def create(app_id: str, fields: dict[str, Any], cap: int) -> Script:
    count = yield one(f"SELECT COUNT(*) AS n FROM {TABLE} WHERE app_id = ?", app_id)
    if count["n"] >= cap:
        raise LimitTooHigh(
            f"this app has {count['n']} characters, the cap (PODIUM_STORYFLOW_MAX_CHARACTERS); "
            "delete some or ask the operator to raise it",
            details={"setting": "PODIUM_STORYFLOW_MAX_CHARACTERS", "cap": cap},
        )
    taken = yield one(
        f"SELECT id FROM {TABLE} WHERE app_id = ? AND name = ?", app_id, fields["name"]
    )
    if taken is not None:
        raise _name_taken(fields["name"])
    now = time.time()
    character_id = new_character_id()
    yield execute(
        f"INSERT INTO {TABLE} (id, app_id, name, description, personality, appearance, voice, "
        "metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        character_id,
        app_id,
        fields["name"],
        *(fields.get(key) for key in TEXT_FIELDS),
        Json(fields.get("metadata")) if fields.get("metadata") is not None else None,
        now,
        now,
    )
    return (yield from get(app_id, character_id))


def get(app_id: str, character_id: str) -> Script:
    row = yield one(f"SELECT * FROM {TABLE} WHERE app_id = ? AND id = ?", app_id, character_id)
    if row is None:
        raise _missing(character_id)
    return _character(row)


def list_page(app_id: str, limit: int, after: str | None) -> Script:
    """Up to `limit` characters of the app by name, after the name `after`."""
    if after is None:
        rows = yield all_rows(
            f"SELECT * FROM {TABLE} WHERE app_id = ? ORDER BY name LIMIT ?", app_id, limit
        )
    else:
        rows = yield all_rows(
            f"SELECT * FROM {TABLE} WHERE app_id = ? AND name > ? ORDER BY name LIMIT ?",
            app_id,
            after,
            limit,
        )
    return [_character(row) for row in rows]


def update(app_id: str, character_id: str, changes: dict[str, Any]) -> Script:
    current = yield from get(app_id, character_id)
    name = changes.get("name", current["name"])
    if name != current["name"]:
        taken = yield one(f"SELECT id FROM {TABLE} WHERE app_id = ? AND name = ?", app_id, name)
        if taken is not None:
            raise _name_taken(name)
    merged = {**current, **changes}
    metadata = merged.get("metadata")
    yield execute(
        f"UPDATE {TABLE} SET name = ?, description = ?, personality = ?, appearance = ?, "
        "voice = ?, metadata = ?, updated_at = ? WHERE app_id = ? AND id = ?",
        name,
        *(merged.get(key) for key in TEXT_FIELDS),
        Json(metadata) if metadata is not None else None,
        time.time(),
        app_id,
        character_id,
    )
    return (yield from get(app_id, character_id))


def delete(app_id: str, character_id: str) -> Script:
    deleted = yield execute(
        f"DELETE FROM {TABLE} WHERE app_id = ? AND id = ?", app_id, character_id
    )
    if not deleted:
        raise _missing(character_id)
    return None


def find(app_id: str, ids: list[str], names: list[str]) -> Script:
    """The characters named by id or by name, in the order asked; InvalidInput naming those
    that the app does not have (a node's config names them)."""
    found: list[dict[str, Any]] = []
    missing: list[str] = []
    for column, wanted in (("id", ids), ("name", names)):
        for value in wanted:
            row = yield one(
                f"SELECT * FROM {TABLE} WHERE app_id = ? AND {column} = ?", app_id, value
            )
            if row is None:
                missing.append(value)
            else:
                found.append(_character(row))
    if missing:
        raise InvalidInput(
            f"this app has no character {', '.join(map(repr, missing))}; create it with "
            "POST /packs/storyflow/characters or fix the node's config",
            details={"missing": missing},
        )
    return found
