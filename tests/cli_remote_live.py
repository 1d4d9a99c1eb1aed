"""A live `podium serve` and a CLI config file logged in to it, for the tests of the server
commands of `podium` (tests/test_cli_remote*.py): one server per test module and backend."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from tests.api.live import PASSWORD, ROOT, SECRET, LiveServer, server_env
from tests.conftest import _truncate

from podium.auth.service import setup_token_of
from podium.cli import main

ASK = ROOT / "examples" / "flows" / "ask.json"
PODIUM = Path(sys.executable).parent / "podium"


def serve(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The body of a module's `live` fixture (parametrized over BACKENDS)."""
    db = tmp_path_factory.mktemp("live") / "podium.db"
    url: str | None = None
    if request.param == "postgresql":
        url = str(request.getfixturevalue("postgres_migrated"))
        asyncio.run(_truncate(url))
    server = LiveServer(db=db, env=server_env(), database_url=url).start()
    try:
        admin = {"email": "admin@example.com", "username": "admin", "password": PASSWORD}
        server.call("POST", "/setup", {"setup_token": setup_token_of(SECRET), **admin})
        yield server
    finally:
        if server.process is not None:
            server.stop()


def logged_in_config(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config file with the admin's login and an app `cli` holding the ask flow."""
    path = tmp_path_factory.mktemp("config") / "podium" / "cli.json"
    env = {"PODIUM_CLI_CONFIG": str(path), "PODIUM_PASSWORD": PASSWORD}
    logged = podium(["--server", live.origin, "login", "-u", "admin"], env)
    assert logged.exit_code == 0, logged.output
    assert logged.output.strip() == f"logged in to {live.origin} as admin"
    assert podium(["apps", "create", "cli"], env).exit_code == 0
    pushed = podium(["flows", "push", str(ASK), "--app", "cli"], env)
    assert re.fullmatch(r"flow 'ask' v1: flw_\w+\n", pushed.output), pushed.output
    return path


def podium(args: list[str], env: dict[str, str], input: str | None = None) -> Result:
    """`podium ARGS` in this process (click's runner), talking to the live server."""
    env = {"PODIUM_SERVER": "", "PODIUM_APP": "", **env}
    return CliRunner().invoke(main, args, env=env, input=input)


def styled(text: str) -> str:
    """A pattern for `text` as rich shows it on a terminal (styles between the words)."""
    return r"(?:\x1b\[[0-9;]*m)*".join(re.escape(character) for character in text)


def environment(config: Path, **extra: str) -> dict[str, str]:
    """The environment of a `podium` process that uses the stored login."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    return {**env, "PODIUM_CLI_CONFIG": str(config), "COLUMNS": "120", **extra}
