"""Flows shipped with the server: visible to every app (an app's own flow of the same name
wins). Each is a JSON file in this folder."""

from __future__ import annotations

from pathlib import Path

from podium.engine.flow import Flow
from podium.engine.loader import read_flow_file

FOLDER = Path(__file__).parent


def shipped_flows() -> list[Flow]:
    return [read_flow_file(path)[0] for path in sorted(FOLDER.glob("*.json"))]
