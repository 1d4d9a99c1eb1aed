"""Reading flows from JSON or YAML files, with one clear line per problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from podium.config import Settings, get_settings
from podium.engine.caps import Caps
from podium.engine.flow import Flow
from podium.engine.graph import Graph, compile_flow
from podium.errors import FlowInvalid, InvalidInput

if TYPE_CHECKING:
    from podium.engine.registry import Registry


def parse_flow(data: Any, *, source: str = "flow") -> Flow:
    """A Flow from decoded JSON; pydantic's complaints become FlowInvalid problems."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{source}: a flow is a JSON object with name, nodes and edges")
    try:
        return Flow.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "flow"
            problems.append(f"{where}: {error['msg']}")
        raise FlowInvalid(str(data.get("name", source)), problems) from None


def read_flow_file(
    path: Path | str, settings: Settings | None = None, *, registry: Registry | None = None
) -> tuple[Flow, Graph]:
    """Load, validate and compile a `.json`, `.yaml` or `.yml` flow file (within the server
    caps of `settings`, by default those of the environment; node types of `registry`, by
    default the engine's own)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"flow file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read flow file {str(path)!r}: {exc.strerror}") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path}: not valid YAML ({exc})") from None
    flow = parse_flow(data, source=path.name)
    caps = Caps.from_settings(settings or get_settings())
    return flow, compile_flow(flow, path.resolve().parent, caps=caps, registry=registry)
