"""Transaction scripts: storage logic written once, run by each backend its own way.

A script is a generator that yields statements and receives their results:

    def rename(run_id, name):
        row = yield one("SELECT name FROM runs WHERE id = ?", run_id)
        yield execute("UPDATE runs SET name = ? WHERE id = ?", name, run_id)
        return row["name"]

The SQLite backend drives it synchronously on its writer thread (one thread hop for the whole
transaction); the PostgreSQL backend drives it over asyncpg inside one transaction. SQL uses
`?` placeholders; JSON values are passed wrapped in `Json` and come back as text.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

# Made once: json.dumps with keyword arguments builds a new encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

Row: TypeAlias = Any  # sqlite3.Row or asyncpg.Record: both index by column name


@dataclass(slots=True, frozen=True)
class Json:
    """A JSON parameter: stored as TEXT on SQLite, JSONB on PostgreSQL."""

    value: Any
    text: str | None = None  # the value's JSON text, when the caller already made it

    def dumps(self) -> str:
        return _ENCODER.encode(self.value) if self.text is None else self.text


@dataclass(slots=True)
class Statement:
    sql: str
    args: Sequence[Any]
    mode: Literal["execute", "one", "all", "many", "dialect"]


Script: TypeAlias = Generator[Statement, Any, Any]


def execute(sql: str, *args: Any) -> Statement:
    """Run a statement; the script receives the number of rows it changed."""
    return Statement(sql, args, "execute")


def one(sql: str, *args: Any) -> Statement:
    """Fetch one row (or None)."""
    return Statement(sql, args, "one")


def all_rows(sql: str, *args: Any) -> Statement:
    """Fetch every row."""
    return Statement(sql, args, "all")


def many(sql: str, rows: Sequence[Sequence[Any]]) -> Statement:
    """Run one statement for each parameter row."""
    return Statement(sql, rows, "many")


def dialect() -> Statement:
    """Ask which backend runs the script: the script receives `sqlite` or `postgresql` (no
    round trip), for the few statements written differently on each."""
    return Statement("", (), "dialect")


def dumps(value: Any) -> str:
    """Compact JSON text, as stored."""
    return _ENCODER.encode(value)


def loads(text: str | None) -> Any:
    """A JSON column's value (None stays None)."""
    return None if text is None else json.loads(text)
