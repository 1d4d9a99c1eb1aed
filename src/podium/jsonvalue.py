"""The one JSON boundary (DESIGN §8): every JSON value that enters Podium passes here.

Request bodies, WebSocket messages, node outputs, artifacts, memory, agent messages, events
and model output are checked once where they come in, so that nothing stored can break a
later read: depth at most `max_depth`, no NUL character in a string or key, no NaN or
Infinity, strings and keys under their length caps, and only JSON types.

The walk is iterative, so a value nested deeper than Python's recursion limit is refused with
a message instead of raising `RecursionError`. `loads` parses text the same way: Python's
decoder guards its own recursion (a `RecursionError` we turn into the depth message) and
accepts NaN, which we refuse.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, NoReturn

from podium.errors import JSONValueInvalid


@dataclass(frozen=True, slots=True)
class JSONLimits:
    """The caps of the boundary (settings `PODIUM_MAX_JSON_DEPTH`, `…_STRING_CHARS`,
    `…_KEY_CHARS`)."""

    max_depth: int = 64
    max_string_chars: int = 1_048_576
    max_key_chars: int = 1_024

    @classmethod
    def from_settings(cls, settings: Any) -> JSONLimits:
        return cls(
            max_depth=settings.max_json_depth,
            max_string_chars=settings.max_json_string_chars,
            max_key_chars=settings.max_json_key_chars,
        )


DEFAULT_LIMITS = JSONLimits()
_limits = DEFAULT_LIMITS


def configure(limits: JSONLimits) -> None:
    """Set the process-wide limits (done once when a server or runtime opens)."""
    global _limits
    _limits = limits


def current_limits() -> JSONLimits:
    return _limits


def _path(parts: list[str | int]) -> str:
    text = "$"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text if len(text) <= 200 else text[:197] + "..."


def _refuse(
    what: str, problem: str, parts: list[str | int], setting: str | None = None
) -> NoReturn:
    details: dict[str, Any] = {"path": _path(parts)}
    if setting:
        details["setting"] = setting
    where = "" if not parts else f" at {details['path']}"
    raise JSONValueInvalid(f"{what}{where}: {problem}", details=details)


# A container being walked: (value, depth, parent entry, key or index in the parent). The
# path to a place is built from the parents only when refusing.
_Entry = tuple[Any, int, "Any", "str | int | None"]


def _parts(entry: _Entry | None, *last: str | int) -> list[str | int]:
    parts: list[str | int] = list(last)
    while entry is not None and entry[2] is not None:
        parts.append(entry[3])  # type: ignore[arg-type]
        entry = entry[2]
    parts.reverse()
    return parts


def check_value(value: Any, what: str = "the value", limits: JSONLimits | None = None) -> None:
    """Refuse `value` unless it is JSON within the limits; the message names `what`, the
    place in the value and the setting of the cap it breaks.

    Raises:
        JSONValueInvalid: with `details.path` (and `details.setting` for a cap).
    """
    limits = limits or _limits
    max_depth, max_string, max_key = limits.max_depth, limits.max_string_chars, limits.max_key_chars
    if max_depth >= 2 and _plainly_fine(value, max_key, max_string):
        return
    stack: list[_Entry] = []
    _visit(value, 1, None, None, what, limits, stack)
    while stack:
        entry = stack.pop()
        item, depth = entry[0], entry[1]
        if depth > max_depth:
            _too_deep(what, _parts(entry), limits)
        # The common kinds are checked here; anything else (a float, a subclass, a tuple, a
        # value that is not JSON) by `_visit`.
        if type(item) is dict:
            for key in item:
                if type(key) is not str:
                    _refuse(what, f"the key {key!r} is not a string", _parts(entry))
                if len(key) > max_key or "\x00" in key or not key.isascii():
                    _check_string(key, what, _parts(entry), limits, key=True)
            children: Any = item.items()
        else:
            children = enumerate(item)
        for place, child in children:
            kind = type(child)
            if kind is str:
                if len(child) > max_string or "\x00" in child or not child.isascii():
                    _check_string(child, what, _parts(entry, place), limits, key=False)
            elif kind is dict or kind is list:
                stack.append((child, depth + 1, entry, place))
            elif child is not None and kind is not int and kind is not bool:
                _visit(child, depth + 1, entry, place, what, limits, stack)


def _plainly_fine(value: Any, max_key: int, max_string: int) -> bool:
    """True for the most common value, which passes: an object whose values are short ASCII
    strings, ints, booleans, nulls or lists of them (a node's output, say). False means
    nothing: `check_value` walks the value."""
    if type(value) is not dict:
        return False
    for key, child in value.items():
        if type(key) is not str or len(key) > max_key or "\x00" in key or not key.isascii():
            return False
        kind = type(child)
        if kind is str:
            if len(child) > max_string or "\x00" in child or not child.isascii():
                return False
        elif kind is list:
            for item in child:
                kind = type(item)
                if kind is str:
                    if len(item) > max_string or "\x00" in item or not item.isascii():
                        return False
                elif item is not None and kind is not int and kind is not bool:
                    return False
        elif child is not None and kind is not int and kind is not bool:
            return False
    return True


def _visit(
    item: Any,
    depth: int,
    parent: _Entry | None,
    key: str | int | None,
    what: str,
    limits: JSONLimits,
    stack: list[_Entry],
) -> None:
    """Check a scalar, or queue a container (`depth` is the one it has as a container)."""
    kind = type(item)
    if kind is dict or kind is list:
        stack.append((item, depth, parent, key))
    elif kind is str:
        _check_string(item, what, _parts(parent, *_key(key)), limits, key=False)
    elif kind is float:
        if not math.isfinite(item):
            _refuse(
                what,
                f"{item} is not a JSON number (NaN and Infinity are refused)",
                _parts(parent, *_key(key)),
            )
    elif item is None or kind is bool or kind is int or isinstance(item, bool):
        return
    elif isinstance(item, (str, int, float)):
        # Subclasses (an IntEnum, a str Enum) encode as JSON: check them as their base.
        _visit(_base_scalar(item), depth, parent, key, what, limits, stack)
    elif isinstance(item, dict):
        stack.append((dict(item), depth, parent, key))
    elif isinstance(item, (list, tuple)):
        stack.append((list(item), depth, parent, key))
    else:
        _refuse(
            what,
            f"a value of type {kind.__name__} is not JSON; use a string, number, "
            "boolean, null, list or object",
            _parts(parent, *_key(key)),
        )


def _key(key: str | int | None) -> tuple[str | int, ...]:
    return () if key is None else (key,)


def _base_scalar(item: str | int | float) -> str | int | float:
    if isinstance(item, str):
        return str.__str__(item)
    if isinstance(item, int):
        return int(item)
    return float(item)


def _too_deep(what: str, parts: list[str | int], limits: JSONLimits) -> NoReturn:
    _refuse(
        what,
        f"nested deeper than {limits.max_depth} levels",
        parts,
        "PODIUM_MAX_JSON_DEPTH",
    )


def _check_string(
    text: str, what: str, parts: list[str | int], limits: JSONLimits, *, key: bool
) -> None:
    cap = limits.max_key_chars if key else limits.max_string_chars
    noun = "a key" if key else "a string"
    if len(text) > cap:
        setting = "PODIUM_MAX_JSON_KEY_CHARS" if key else "PODIUM_MAX_JSON_STRING_CHARS"
        _refuse(what, f"{noun} of {len(text)} characters is over the cap of {cap}", parts, setting)
    if "\x00" in text:
        _refuse(what, f"{noun} holds a NUL character (\\u0000), which is refused", parts)
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            _refuse(
                what,
                f"{noun} holds a lone surrogate (\\ud800 to \\udfff), which is not UTF-8",
                parts,
            )


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (NaN and Infinity are refused)")


def loads(text: str | bytes, what: str = "the JSON", limits: JSONLimits | None = None) -> Any:
    """Parse JSON text and check the value (`check_value`).

    Raises:
        JSONValueInvalid: for text that is not JSON or a value outside the limits.
    """
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        _too_deep(what, [], limits or _limits)
    except UnicodeDecodeError as exc:
        _refuse(what, f"not UTF-8 ({exc.reason})", [])
    except json.JSONDecodeError as exc:
        _refuse(what, f"not valid JSON ({exc.msg} at position {exc.pos})", [])
    except ValueError as exc:  # NaN or Infinity, from _no_constants
        _refuse(what, str(exc), [])
    check_value(value, what, limits)
    return value
