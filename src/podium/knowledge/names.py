"""The names of the knowledge store: namespaces (reserved ones start with `_`) and keys."""

from __future__ import annotations

import re

from podium.errors import KnowledgeInvalid

NAMESPACE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# Reserved namespaces (services only): `_` and then a name.
SYSTEM_NAMESPACE_PATTERN = r"^_[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
# A key: letters, digits and _ . : @ - /, e.g. a file's relative path "guides/intro.md";
# no empty, `.` or `..` segment, no leading or trailing slash.
KEY_PATTERN = r"^[A-Za-z0-9_.:@-][A-Za-z0-9_.:@/-]{0,199}$"
SYSTEM_KEY_MAX_CHARS = 300


def is_reserved(namespace: str) -> bool:
    """Whether a namespace is one of Podium's own services' (it starts with `_`)."""
    return namespace.startswith("_")


def check_namespace(namespace: str, *, system: bool = False) -> None:
    """Refuse a namespace that is not a valid name, or a reserved one unless `system`."""
    if isinstance(namespace, str) and is_reserved(namespace):
        if not system:
            raise KnowledgeInvalid(
                f"namespace {namespace!r} is reserved: names starting with _ belong to "
                "Podium's own services (the agent directory, memory search); choose a name "
                "that starts with a letter or digit"
            )
        if re.fullmatch(SYSTEM_NAMESPACE_PATTERN, namespace):
            return
    elif isinstance(namespace, str) and re.fullmatch(NAMESPACE_PATTERN, namespace):
        return
    raise KnowledgeInvalid(
        f"namespace {namespace!r} is not valid: 1 to 64 letters, digits and _ . - starting "
        "with a letter or digit, e.g. 'handbook'"
    )


def check_key(key: str, *, system: bool = False) -> None:
    """Refuse a document key that is not valid (services' keys: any printable text of up to
    300 characters)."""
    if system and isinstance(key, str) and 0 < len(key) <= SYSTEM_KEY_MAX_CHARS:
        if key.isprintable():
            return
        raise KnowledgeInvalid(f"document key {key!r} holds a control character")
    valid = isinstance(key, str) and re.fullmatch(KEY_PATTERN, key) is not None
    if valid and not key.endswith("/"):
        segments = key.split("/")
        valid = all(segment not in ("", ".", "..") for segment in segments)
    if not valid:
        raise KnowledgeInvalid(
            f"document key {key!r} is not valid: 1 to 200 letters, digits and _ . : @ - /, "
            "with no empty, '.' or '..' part between slashes, e.g. 'guides/intro.md'"
        )
