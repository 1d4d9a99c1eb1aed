"""Bring a database to the newest schema with Alembic (the only source of the schema).

Packs bring their own tables: each pack's versions directory is one more version location,
a branch of its own (its first revision has no `down_revision`), upgraded with the core's.
"""

import os
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config

from podium.storage.urls import async_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str, extra_locations: Sequence[Path] = ()) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", async_url(database_url).replace("%", "%%"))
    if extra_locations:
        locations = [str(MIGRATIONS / "versions"), *(str(p) for p in extra_locations)]
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", os.pathsep.join(locations).replace("%", "%%"))
    return config


def upgrade(
    database_url: str, revision: str = "heads", extra_locations: Sequence[Path] = ()
) -> None:
    """Apply every migration up to `revision` (every branch's head: the core's and each
    pack's in `extra_locations`). Blocking: call it with asyncio.to_thread."""
    command.upgrade(alembic_config(database_url, extra_locations), revision)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head
