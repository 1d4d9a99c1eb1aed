"""Prefixed, sortable, opaque identifiers (`run_01J…`)."""

from ulid import ULID

PREFIXES = frozenset({"app", "usr", "agt", "flw", "ses", "run", "stp", "int", "art", "evt", "wrk"})


def new_id(prefix: str) -> str:
    """A new id such as `run_01jb…`: the prefix, an underscore and a lower-case ULID."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}_{str(ULID()).lower()}"
