"""Bring a database to the newest schema with Alembic (the only source of the schema).

Packs bring their own tables: each pack's versions directory is a branch of its own (its
first revision has no `down_revision`), kept in its own version table and upgraded after the
core's.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import TypeAlias

from alembic import command
from alembic.config import Config

from podium.storage.urls import async_url

MIGRATIONS = Path(__file__).parent / "migrations"
# A pack's name and its Alembic versions directory.
PackMigrations: TypeAlias = tuple[str, Path]


def alembic_config(database_url: str, pack: PackMigrations | None = None) -> Config:
    """The core's migrations, or with `pack` that pack's: its own versions directory and its
    own version table (`alembic_version_<pack>`), so that a pack removed later leaves the
    core's upgrades (and every other pack's) as they were."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", async_url(database_url).replace("%", "%%"))
    if pack is not None:
        name, location = pack
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", str(location).replace("%", "%%"))
        config.set_main_option("version_table", f"alembic_version_{name}")
    return config


def upgrade(
    database_url: str, revision: str = "head", packs: Sequence[PackMigrations] = ()
) -> None:
    """Apply every migration up to `revision`, then every pack's up to its head. Blocking:
    call it with asyncio.to_thread."""
    command.upgrade(alembic_config(database_url), revision)
    for pack in packs:
        command.upgrade(alembic_config(database_url, pack), "heads")


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head
