"""PostgreSQL for the benchmarks: a fresh database per measurement, and the server's CPU.

`FreshPostgres(url)` creates a database of its own on the server of `url` (the role needs
CREATEDB; `scripts/with-postgres` gives a throwaway cluster) and drops it afterwards.
`postgres_cpu_seconds(url)` is the CPU time used so far by that server's processes (the
postmaster and its children: backends, WAL writer, checkpointer...), so that a benchmark can
say how much of a run's cost is the database's. It needs to see the server's data directory
(a superuser role) and its processes (psutil; the same machine): None otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from pathlib import Path


def _dsn(url: str) -> str:
    from podium.storage.urls import asyncpg_dsn

    return asyncpg_dsn(url)


async def _execute(dsn: str, statement: str, *args: object) -> object:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchval(statement, *args)
    finally:
        await connection.close()


class FreshPostgres:
    """A database of its own on the server of `url`, dropped afterwards."""

    def __init__(self, url: str, prefix: str = "podium_bench") -> None:
        self.admin_dsn = _dsn(url)
        self.name = f"{prefix}_{secrets.token_hex(4)}"
        base, _, _ = url.partition("?")
        self.url = base.rsplit("/", 1)[0] + "/" + self.name

    def __enter__(self) -> FreshPostgres:
        asyncio.run(_execute(self.admin_dsn, f'CREATE DATABASE "{self.name}"'))
        return self

    def __exit__(self, *exc: object) -> None:
        statement = f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'
        asyncio.run(_execute(self.admin_dsn, statement))

    def size(self) -> int:
        value = asyncio.run(_execute(self.admin_dsn, "SELECT pg_database_size($1)", self.name))
        return int(str(value))


class PostgresCpu:
    """CPU seconds used by the PostgreSQL server of `url` (None when it cannot be seen)."""

    def __init__(self, url: str) -> None:
        self.root = None
        with contextlib.suppress(Exception):
            import psutil

            data = asyncio.run(_execute(_dsn(url), "SHOW data_directory"))
            pid = int(Path(str(data), "postmaster.pid").read_text().split()[0])
            self.root = psutil.Process(pid)

    def seconds(self) -> float | None:
        """User + system CPU of the postmaster and its current children (a backend that has
        exited since is not counted: the benchmarks keep their connections open)."""
        if self.root is None:
            return None
        total = 0.0
        with contextlib.suppress(Exception):
            for proc in [self.root, *self.root.children(recursive=True)]:
                with contextlib.suppress(Exception):
                    times = proc.cpu_times()
                    total += times.user + times.system
        return total
