"""PostgreSQL backend: each transaction script runs in one asyncpg transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import asyncpg

from podium.errors import Conflict
from podium.storage.migrate import upgrade
from podium.storage.script import Json, Script, Statement
from podium.storage.store import Store
from podium.storage.urls import asyncpg_dsn


@lru_cache(maxsize=512)
def numbered(sql: str) -> str:
    """`?` placeholders as asyncpg's `$1, $2, …` (our SQL has no `?` inside literals)."""
    parts = sql.split("?")
    out = [parts[0]]
    for index, part in enumerate(parts[1:], start=1):
        out.append(f"${index}{part}")
    return "".join(out)


def _argument(value: Any) -> Any:
    return value.dumps() if isinstance(value, Json) else value


class PostgresStore(Store):
    dialect = "postgresql"

    _pool: asyncpg.Pool | None = None

    async def open(self, *, migrate: bool = True) -> None:
        if migrate:
            await asyncio.to_thread(upgrade, self.url, "heads", self.migrations)
        self._pool = await asyncpg.create_pool(asyncpg_dsn(self.url), min_size=1, max_size=10)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def run_script(self, make_script: Callable[[], Script]) -> Any:
        assert self._pool is not None, "call open() first"
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                return await drive(connection, make_script())
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise Conflict(f"the change conflicts with stored data: {exc}") from None


async def drive(connection: Any, script: Script) -> Any:
    """Run a script's statements on an asyncpg connection; returns the script's value."""
    result: Any = None
    try:
        while True:
            statement = script.send(result)
            result = await _execute(connection, statement)
    except StopIteration as stop:
        return stop.value


async def _execute(connection: Any, statement: Statement) -> Any:
    sql = numbered(statement.sql)
    if statement.mode == "many":
        rows = [[_argument(value) for value in row] for row in statement.args]
        await connection.executemany(sql, rows)
        return None
    args = [_argument(value) for value in statement.args]
    if statement.mode == "execute":
        status: str = await connection.execute(sql, *args)
        return int(status.rsplit(" ", 1)[-1]) if status[-1].isdigit() else 0
    if statement.mode == "one":
        return await connection.fetchrow(sql, *args)
    return await connection.fetch(sql, *args)
