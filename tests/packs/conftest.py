"""The shipped packs' test fixtures: a live `podium serve` with the packs installed, on
every backend, with a platform admin signed in and an app; and a store with the leads
pack's table migrated by Alembic directly, for the tests below the API."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from tests.api.live import LiveServer, create_admin, login, server_env


@dataclass
class Client:
    """The admin of one app on the live server."""

    server: LiveServer
    token: str
    app_id: str

    @property
    def base(self) -> str:
        return f"/apps/{self.app_id}"

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, body) of a call under the app (`path` relative to /apps/{app_id})."""
        return self.server.request(method, f"{self.base}{path}", body, self.token)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.request(method, path, body)
        assert 200 <= status < 300, f"{method} {path} -> {status} {answer}"
        return answer

    def wait(self, run_id: str) -> dict[str, Any]:
        run: dict[str, Any] = self.call("GET", f"/runs/{run_id}/wait?timeout=20")
        return run

    def enable(self, pack: str) -> dict[str, Any]:
        """PUT /apps/{app}/packs/{pack}: what an app admin does to use a pack."""
        enabled: dict[str, Any] = self.call("PUT", f"/packs/{pack}")
        return enabled


SHIPPED = {
    "appbuilder": "podium.packs.appbuilder",
    "leads": "podium.packs.leads",
    "orchestrator": "podium.packs.orchestrator",
    "storyflow": "podium.packs.storyflow",
}


def shipped_pack_specs() -> list[str]:
    """PODIUM_PACKS for the shipped packs that no `podium.packs` entry point installs yet
    (an environment installed before they were listed in pyproject)."""
    installed = {point.name for point in entry_points(group="podium.packs")}
    return [module for name, module in SHIPPED.items() if name not in installed]


def start_server(database_url: str, tmp_path: Path, **env: str) -> LiveServer:
    db = tmp_path / "podium.db"
    url = None if database_url.startswith("sqlite") else database_url
    environment = server_env(PODIUM_PACKS=",".join(shipped_pack_specs()), **env)
    create_admin(url or db, environment)  # the CLI migrates: the packs' tables are made here
    return LiveServer(db=db, env=environment, database_url=url).start()


@pytest.fixture
def pack_env() -> dict[str, str]:
    """Override in a module: the server's extra settings."""
    return {}


@pytest.fixture
def live(database_url: str, tmp_path: Path, pack_env: dict[str, str]) -> Iterator[LiveServer]:
    server = start_server(database_url, tmp_path, **pack_env)
    try:
        yield server
    finally:
        if server.process is not None:
            server.stop()
        if not database_url.startswith("sqlite"):
            downgrade_pack(database_url, LEADS_MIGRATIONS, "leads")
            downgrade_pack(database_url, STORYFLOW_MIGRATIONS, "storyflow")
    assert "Traceback" not in server.output(), server.output()


@pytest.fixture
def client(live: LiveServer) -> Client:
    token = login(live)
    app = live.call("POST", "/apps", {"name": "packs"}, token)
    return Client(live, token, str(app["id"]))


# --- a pack's tables, migrated by Alembic directly ---------------------------------------


def pack_alembic(database_url: str, versions: Path, branch: str) -> tuple[Any, str, str]:
    """(Alembic configuration, upgrade target, downgrade target) of a pack's migrations,
    whichever way this version of Podium keeps them: in a version table of the pack's own
    (`alembic_config(url, (pack, directory))`), or as a branch of the core's
    (`alembic_config(url, [directory])`)."""
    from podium.storage import migrate

    alembic_config: Any = migrate.alembic_config
    if "pack" in inspect.signature(alembic_config).parameters:
        return alembic_config(database_url, (branch, versions)), "heads", "base"
    return alembic_config(database_url, [versions]), f"{branch}@head", f"{branch}@base"


def upgrade_pack(database_url: str, versions: Path, branch: str) -> None:
    from alembic import command

    config, target, _ = pack_alembic(database_url, versions, branch)
    command.upgrade(config, target)


def downgrade_pack(database_url: str, versions: Path, branch: str) -> None:
    from alembic import command

    config, _, target = pack_alembic(database_url, versions, branch)
    command.downgrade(config, target)


LEADS_MIGRATIONS = Path(__file__).resolve().parents[2] / "src/podium/packs/leads/migrations"
STORYFLOW_MIGRATIONS = Path(__file__).resolve().parents[2] / "src/podium/packs/storyflow/migrations"


@pytest.fixture
def leads_url(database_url: str) -> Iterator[str]:
    """A database with the core schema and the leads pack's table (and no rows)."""
    upgrade_pack(database_url, LEADS_MIGRATIONS, "leads")
    yield database_url
    if not database_url.startswith("sqlite"):
        # The PostgreSQL database is shared by the whole session: leave it as the core's
        # migrations know it (a `leads_0001` they cannot find would stop every server).
        downgrade_pack(database_url, LEADS_MIGRATIONS, "leads")


@pytest.fixture
async def leads_store(leads_url: str) -> Any:
    from tests.conftest import fast_settings

    from podium.storage.store import open_store

    store = open_store(leads_url, fast_settings())
    await store.open(migrate=False)
    yield store
    await store.close()
