"""Shared fixtures: a migrated store on every backend (SQLite always, PostgreSQL when
`PODIUM_TEST_DATABASE_URL` is set), and a Podium runtime on top of it."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from podium import Podium
from podium.config import Settings
from podium.storage.migrate import upgrade
from podium.storage.store import Store, open_store
from podium.storage.urls import sqlite_url

TESTS = Path(__file__).parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


def _worker_database(url: str | None) -> str | None:
    """Under pytest-xdist (`make test` runs `-n`), each worker process gets a database of its
    own in the suite's cluster, made empty when the worker starts: the fixtures truncate every
    table between tests, and live servers, workers and benchmarks the tests start get the
    URL through the environment. The URL is swapped in the environment before any test
    module reads it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker or os.environ.get("PODIUM_TEST_DATABASE_BASE"):
        return url
    import asyncpg

    from podium.storage.urls import asyncpg_dsn

    url, _, query = url.partition("?")
    base, _, name = url.rpartition("/")
    own = f"{name}_{worker}"

    async def recreate() -> None:
        connection = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{own}"')
        finally:
            await connection.close()

    asyncio.run(recreate())
    os.environ["PODIUM_TEST_DATABASE_BASE"] = url
    os.environ["PODIUM_TEST_DATABASE_URL"] = f"{base}/{own}" + (f"?{query}" if query else "")
    return os.environ["PODIUM_TEST_DATABASE_URL"]


POSTGRES_URL = _worker_database(os.environ.get("PODIUM_TEST_DATABASE_URL"))
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]
TABLES = (
    "workflow_graphs, agent_messages, memory, session_artifacts, artifact_versions, artifacts, "
    "agent_activity, tool_calls, mcp_servers, integrations, providers, agents, "
    "events, interrupts, calls, steps, runs, sessions, flows, api_keys, invitations, memberships, "
    "refresh_tokens, pack_handler_failures, pack_handler_cursors, pack_enablements, users, apps, "
    "rate_limits, schedules, webhook_deliveries, webhooks, retention_policies, llm_usage, budgets"
)


def fast_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {"poll_seconds": 0.05, "lease_seconds": 5.0, "workers": 2}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def postgres_migrated() -> str | None:
    if POSTGRES_URL:
        upgrade(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL with the migrated schema and no rows."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "podium.db")
        upgrade(url)
        return url
    url = request.getfixturevalue("postgres_migrated")
    asyncio.run(_truncate(url))
    return str(url)


async def _truncate(url: str) -> None:
    import asyncpg

    from podium.storage.urls import asyncpg_dsn

    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute(f"TRUNCATE {TABLES} CASCADE")
    finally:
        await connection.close()


@pytest.fixture
def settings() -> Settings:
    return fast_settings()


@pytest.fixture
async def store(database_url: str, settings: Settings) -> AsyncIterator[Store]:
    store = open_store(database_url, settings)
    await store.open(migrate=False)
    yield store
    await store.close()


@pytest.fixture
async def podium(database_url: str, settings: Settings) -> AsyncIterator[Podium]:
    async with Podium.open(database_url, settings=settings, migrate=False) as runtime:
        yield runtime
