"""Flows shipped with the server: visible to every app (an app's own flow of the same name
wins). Each is a JSON file in this folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from podium.engine.flow import Flow
from podium.engine.loader import read_flow_file

if TYPE_CHECKING:
    from podium.engine.registry import Registry

FOLDER = Path(__file__).parent


def shipped_flows(registry: Registry | None = None) -> list[Flow]:
    """The shipped flows, checked against the node types of `registry`."""
    return [read_flow_file(path, registry=registry)[0] for path in sorted(FOLDER.glob("*.json"))]
