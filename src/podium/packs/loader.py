"""Finding the installed packs: the `podium.packs` entry-point group, then `PODIUM_PACKS`
(comma-separated module names, or directories that are packages defining `pack`).

The operator installs packs (DESIGN §8: only the operator chooses code that runs on the
host); apps only enable or disable what is installed.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from podium.errors import InvalidInput
from podium.packs.base import Pack

ENTRY_POINT_GROUP = "podium.packs"


class PackLoadError(InvalidInput):
    """A pack that cannot be loaded; the message says which and what to do."""


def discover(specs: list[str]) -> list[Pack]:
    """Every installed pack: the entry points' first, then `specs` (PODIUM_PACKS) in order.

    Raises PackLoadError for a pack that cannot be imported, has no `pack`, or whose name
    another pack already has.
    """
    found: list[Pack] = []
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        try:
            loaded = point.load()
        except Exception as exc:
            raise PackLoadError(
                f"the pack entry point {point.name!r} ({point.value}) cannot be loaded: {exc}"
            ) from exc
        found.append(_pack_of(loaded, f"entry point {point.name} ({point.value})"))
    for spec in specs:
        found.append(load_spec(spec))
    seen: dict[str, str] = {}
    for pack in found:
        if pack.name in seen:
            raise PackLoadError(
                f"two packs are named {pack.name!r}: {seen[pack.name]} and {pack.source}; "
                "remove one from PODIUM_PACKS (or uninstall it)"
            )
        seen[pack.name] = pack.source
    return found


def load_spec(spec: str) -> Pack:
    """A pack named by PODIUM_PACKS: `module`, `module:attribute`, or a package directory."""
    spec = spec.strip()
    module_name, _, attribute = spec.partition(":")
    path = Path(module_name).expanduser()
    if "/" in module_name or module_name.startswith(".") or path.is_dir():
        module = _import_directory(path, spec)
    else:
        module = _import(module_name, spec)
    target = getattr(module, attribute or "pack", None)
    if target is None:
        raise PackLoadError(
            f"PODIUM_PACKS names {spec!r}, whose module defines no {attribute or 'pack'!r}; "
            "define pack = Pack(name=..., ...) in it"
        )
    return _pack_of(target, spec)


def _import(module_name: str, spec: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise PackLoadError(
            f"PODIUM_PACKS names {spec!r}, which cannot be imported: {exc}; install it or "
            "give the path of its package directory"
        ) from exc


def _import_directory(path: Path, spec: str) -> ModuleType:
    """Import a package directory by its name, with its parent on `sys.path`."""
    path = path.resolve()
    if not (path / "__init__.py").is_file():
        raise PackLoadError(
            f"PODIUM_PACKS names {spec!r}, which is not a package directory (no __init__.py "
            "in it); give a directory holding __init__.py that defines pack"
        )
    if not path.name.isidentifier():
        raise PackLoadError(
            f"PODIUM_PACKS names {spec!r}: a pack directory's name is its module name, so it "
            "must be a Python identifier (letters, digits, _)"
        )
    parent = str(path.parent)
    if parent not in sys.path:
        sys.path.append(parent)
    module = _import(path.name, spec)
    origin = Path(module.__file__ or "").resolve().parent
    if origin != path:
        raise PackLoadError(
            f"PODIUM_PACKS names {spec!r}, but the module {path.name!r} is imported from "
            f"{origin}; rename the directory or the other module"
        )
    return module


def _pack_of(target: object, source: str) -> Pack:
    if isinstance(target, ModuleType):
        target = getattr(target, "pack", None)
    if not isinstance(target, Pack):
        raise PackLoadError(
            f"{source} is not a pack: expected podium.packs.base.Pack, got "
            f"{type(target).__name__}; define pack = Pack(name=..., ...)"
        )
    target.source = source
    return target
