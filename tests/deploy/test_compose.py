"""deploy/compose.yaml cannot drift from the CLI: its services, their commands (parsed by
the real click commands) and their PODIUM_* settings (fields of `Settings`). `docker compose
config` is not run here (no docker daemon in CI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml

from podium.cli import main
from podium.config import Settings

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose.yaml"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def parsed(command: list[str]) -> click.Context:
    """The command parsed as `podium` would parse it (a wrong option raises)."""
    assert command[0] == "podium"
    sub = main.commands[command[1]]
    return sub.make_context(command[1], list(command[2:]))


def test_the_services_are_postgresql_two_apis_and_three_workers() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "api-1", "api-2", "worker"}
    assert services["worker"]["deploy"]["replicas"] == 3
    for name in ("api-1", "api-2"):
        context = parsed(services[name]["command"])
        assert context.command.name == "serve"
        assert context.params["workers"] == 0  # API only: the workers run the runs
        assert context.params["host"] == "0.0.0.0"
    context = parsed(services["worker"]["command"])
    assert context.command.name == "worker"
    assert not context.params["until_idle"]


def test_every_podium_setting_in_the_compose_file_exists() -> None:
    services = compose()["services"]
    fields = set(Settings.model_fields)
    for name in ("api-1", "api-2", "worker"):
        environment = services[name]["environment"]
        assert environment["PODIUM_DATABASE_URL"].startswith("postgresql://")
        for key in environment:
            assert key.startswith("PODIUM_"), key
            assert key.removeprefix("PODIUM_").lower() in fields, key


def test_a_wrong_option_would_be_caught() -> None:
    try:
        parsed(["podium", "serve", "--no-such-option"])
    except click.UsageError:
        return
    raise AssertionError("an unknown option parsed")
