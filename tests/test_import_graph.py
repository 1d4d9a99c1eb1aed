"""The package import graph of `src/podium` follows the layers of DESIGN §2.

Every import counts: at module level, inside functions, under `TYPE_CHECKING`, and module
names in strings handed to `importlib` (`import_module("podium.x")`, `__import__`) or kept
in module-level tuples of names. An import may point to its own layer or below, never up;
and no two packages may import each other, directly or through others. The composition
root (`podium.assembly`) and the public API (`podium/__init__.py`) are the only modules
that may reach every layer.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "podium"

# DESIGN §2, bottom to top. A top-level module is its own package.
LAYERS: dict[str, int] = {
    # foundation
    "types": 0,
    "errors": 0,
    "config": 0,
    "ids": 0,
    "jsonvalue": 0,
    "lru": 0,
    "egress": 0,
    "secretbox": 0,
    "tracing": 0,
    "logs": 0,
    "version": 0,
    "effects": 0,
    # infrastructure
    "storage": 1,
    "events": 1,
    "live": 1,
    "queue": 1,
    # providers
    "llm": 2,
    "tools": 2,
    # services
    "engine": 3,
    "agents": 3,
    "sessions": 3,
    "memory": 3,
    "auth": 3,
    "workflows": 3,
    "flows": 3,
    "packs": 3,
    "knowledge": 3,
    "webhooks": 3,
    # transport
    "api": 4,
    "cli": 4,
    "cli_display": 4,
    "cli_knowledge": 4,
    "cli_dev": 4,
    "cli_remote": 4,
    "cli_remote_run": 4,
    "client": 4,
    "demo": 4,
    "console": 4,
    "__main__": 4,
}
LAYER_NAMES = ["foundation", "infrastructure", "providers", "services", "transport"]
# The composition root and the public API assemble every layer; nothing names them but the
# CLI, the process's entry point, which hands the assembled registry down.
EXEMPT = {"assembly", "__init__"}
ENTRY_POINTS = {"cli", "cli_display", "__main__"}

IMPORT_FUNCTIONS = {"import_module", "__import__"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str:
    """`podium.engine.context` → `engine`; `podium.config` → `config`."""
    parts = module.split(".")
    if parts[0] != "podium":
        raise ValueError(module)
    if len(parts) == 1:
        return "__init__"
    if len(parts) >= 3 and parts[1] == "packs" and (SOURCE / "packs" / parts[2]).is_dir():
        return f"packs.{parts[2]}"  # a shipped pack: its own package, above transport
    return parts[1]


def resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_modules(path: Path) -> set[str]:
    """Every `podium…` module the file names, by import statement or by string."""
    tree = ast.parse(path.read_text(), str(path))
    current = module_name(path)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = resolve(current, is_package, node)
            for alias in node.names:  # `from podium import jsonvalue` names the module
                name = f"{base}.{alias.name}"
                found.add(name if existing(name) else base)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # A module name in a string (an importlib argument, a tuple of module names):
            # only strings that are whole dotted names count, not prose mentioning one.
            text = node.value.split(":")[0]
            if text.startswith("podium.") and all(p.isidentifier() for p in text.split(".")):
                found.add(text)
    return {name for name in found if name == "podium" or name.startswith("podium.")}


def existing(name: str) -> bool:
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    return (SOURCE / relative).with_suffix(".py").exists() or (SOURCE / relative).is_dir()


def package_edges() -> dict[tuple[str, str], list[str]]:
    """(from package, to package) → the `module → module` lines that make that edge."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        source = module_name(path)
        for target in sorted(imported_modules(path)):
            if not existing(target):
                continue
            a, b = package_of(source), package_of(target)
            if a != b:
                edges.setdefault((a, b), []).append(f"{source} → {target}")
    return edges


def layer(package: str) -> int:
    # A shipped pack (`podium.packs.leads`) is built on the public surface, routes included,
    # as a user's own pack is: above transport, and named by nothing (entry points find it).
    return PACK_LAYER if package.startswith("packs.") else LAYERS[package]


PACK_LAYER = len(LAYER_NAMES)


def test_every_package_has_a_layer() -> None:
    packages = {package_of(module_name(p)) for p in SOURCE.rglob("*.py")}
    unknown = sorted(p for p in packages - set(LAYERS) - EXEMPT if not p.startswith("packs."))
    assert not unknown, f"give these packages a layer in LAYERS (DESIGN §2): {unknown}"


def test_no_import_points_up() -> None:
    upward = []
    for (a, b), why in sorted(package_edges().items()):
        if a in EXEMPT:
            continue
        if b in EXEMPT:
            if a not in ENTRY_POINTS:
                upward.append(f"{a} → {b} (only the CLI names the composition root): {why[0]}")
            continue
        if layer(b) > layer(a):
            names = [*LAYER_NAMES, "shipped packs"]
            layer_a, layer_b = names[layer(a)], names[layer(b)]
            upward.append(f"{a} ({layer_a}) → {b} ({layer_b}): {why[0]}")
    assert not upward, "imports that point up a layer:\n" + "\n".join(upward)


def test_no_package_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for a, b in package_edges():
        if a in EXEMPT or b in EXEMPT:
            continue
        graph.setdefault(a, set()).add(b)
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        pytest.fail("package cycle: " + " → ".join(cycle))


def test_engine_and_storage_name_nothing_above_them() -> None:
    """The acceptance line of issue 13, said plainly."""
    offenders = [
        line
        for (a, b), why in package_edges().items()
        if a in {"engine", "storage"} and (b in EXEMPT or layer(b) > layer(a))
        for line in why
    ]
    assert not offenders, offenders


def test_the_server_loads_the_a2a_sdk_on_first_use() -> None:
    """`a2a-sdk` brings protobuf and SQLAlchemy (~20 MiB); a server that is never asked for
    A2A does not pay for it (benchmarks/README.md, RSS idle)."""
    import subprocess
    import sys

    probe = "import sys, podium.api.app; print(sorted(m for m in sys.modules if m == 'a2a'))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_server_loads_the_mcp_sdk_on_first_use() -> None:
    """The MCP SDK (server and client) costs ~0.4 s of every start; a server that is never
    asked for MCP, and whose agents use no MCP server, does not load it."""
    import subprocess
    import sys

    probe = (
        "import sys, podium.api.app; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_mcp_error_middleware_uses_json_rpcs_invalid_request_code() -> None:
    from mcp_types import INVALID_REQUEST

    from podium.api.mcp_server import INVALID_REQUEST as OURS

    assert OURS == INVALID_REQUEST
