"""Shared memory: scoped key/value JSON for agents and people (DESIGN: Memory).

Scopes are `session`, `run`, `app` and `user`; an entry lives in one scope of one app. The
scope id names the session, run or user (`-` or the app's own id for the app scope) and must
belong to the app, else NotFound. An entry may expire (`ttl` seconds): every read ignores
expired entries at once, and `sweep` (run by `start_sweeper` in the API server) deletes their
rows later. Each write is one transaction with its `memory.updated` event, which says what
changed (scope, key, op, expiry, actor) but not the value: the event log is kept for good,
and a value meant to expire must not outlive its TTL there.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from podium import jsonvalue
from podium.errors import InvalidInput, NotFound, PayloadTooLarge
from podium.knowledge import chunking
from podium.knowledge.service import KnowledgeService
from podium.storage import memory as tx
from podium.storage.memory import INDEX_NAMESPACE, SCOPES, THIS_APP, MemoryEntry, Origin
from podium.storage.script import dumps
from podium.storage.store import Store

log = logging.getLogger(__name__)

KEY_PATTERN = r"^[A-Za-z0-9_.:@-]{1,200}$"
PREFIX_PATTERN = r"^[A-Za-z0-9_.:@-]{0,200}$"
# Session, run and user ids, or `-`: no control characters, no slash (it is a path segment).
SCOPE_ID_PATTERN = r"^[^\x00-\x1f\x7f/]{1,80}$"
MAX_VALUE_BYTES = 65_536
MAX_TTL_SECONDS = 10 * 366 * 86_400.0
MAX_LIST_LIMIT = 1000
SWEEP_SECONDS = 60.0
SWEEP_BATCH = 1000


def storable_json(what: str, value: Any, max_bytes: int) -> None:
    """Refuse a value the JSON boundary refuses (not JSON, too deep, a NUL, NaN, a lone
    surrogate, an over-long string) or over `max_bytes` of JSON."""
    jsonvalue.check_value(value, what)
    size = len(dumps(value).encode())
    if size > max_bytes:
        raise PayloadTooLarge(
            f"{what} is {size} bytes of JSON, over the limit of {max_bytes}; keep large data "
            "elsewhere (an artifact, a file) and store a reference to it",
            details={"bytes": size, "max_bytes": max_bytes},
        )


def encodable(text: str) -> bool:
    """Whether `text` can be stored (UTF-8 has no lone surrogates)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def check_scope(scope: str, scope_id: str) -> None:
    if scope not in SCOPES:
        raise InvalidInput(
            f"unknown memory scope {scope!r}; the scopes are {', '.join(SCOPES)}",
            details={"scopes": list(SCOPES)},
        )
    valid = isinstance(scope_id, str) and re.fullmatch(SCOPE_ID_PATTERN, scope_id)
    if not valid or not encodable(scope_id):
        raise InvalidInput(
            f"memory scope id {scope_id!r} is not valid: 1 to 80 characters, no slash or "
            f"control character (the {scope}'s id{', or -' if scope == 'app' else ''})"
        )


def check_key(key: str) -> None:
    if not isinstance(key, str) or not re.fullmatch(KEY_PATTERN, key):
        raise InvalidInput(
            f"memory key {key!r} is not valid: use 1 to 200 letters, digits and _ . : @ - "
            "(no spaces or slashes), e.g. 'profile.name'"
        )


def check_ttl(ttl: float | None) -> None:
    if ttl is None:
        return
    if not isinstance(ttl, int | float) or isinstance(ttl, bool) or not math.isfinite(ttl):
        raise InvalidInput(f"ttl is a number of seconds, not {ttl!r}")
    if not 0 < ttl <= MAX_TTL_SECONDS:
        raise InvalidInput(
            f"ttl {ttl:g} is out of range: more than 0 and at most {MAX_TTL_SECONDS:g} "
            "seconds (ten years); leave it out for an entry that does not expire"
        )


def searchable_text(key: str, value: Any) -> str:
    """An entry as the text its search index holds: its key, then the value flattened (an
    object's keys and values, a list's items, one per line)."""
    lines = [key.replace(".", " ").replace("_", " ")]

    def walk(item: Any, label: str) -> None:
        if isinstance(item, dict):
            for name, child in item.items():
                walk(child, f"{label} {name}".strip())
        elif isinstance(item, list):
            for child in item:
                walk(child, label)
        elif item is not None:
            text = item if isinstance(item, str) else dumps(item)
            lines.append(f"{label}: {text}" if label else text)

    walk(value, "")
    return "\n".join(lines)


@dataclass(slots=True)
class MemoryHit:
    entry: MemoryEntry
    score: float
    matched: list[str]


@dataclass(slots=True)
class MemoryPage:
    items: list[MemoryEntry]
    next_cursor: str | None  # the last key of a full page; None on the last page


class MemoryService:
    """Get, set, delete and list memory entries of an app (every call names the app)."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        max_value_bytes: int = MAX_VALUE_BYTES,
    ) -> None:
        self.store = store
        self.clock = clock
        self.max_value_bytes = max_value_bytes
        # Memory search reads the same full-text index as the knowledge store.
        self.knowledge = KnowledgeService(store, store.settings, clock=clock)
        self._sweeper: asyncio.Task[None] | None = None

    async def get(self, app_id: str, scope: str, scope_id: str, key: str) -> MemoryEntry:
        """The live entry; NotFound when there is none (or it expired)."""
        entry = await self.find(app_id, scope, scope_id, key)
        if entry is None:
            raise NotFound(f"no memory key {key!r} in the {scope} scope {scope_id}")
        return entry

    async def find(self, app_id: str, scope: str, scope_id: str, key: str) -> MemoryEntry | None:
        """The live entry, or None."""
        check_scope(scope, scope_id)
        check_key(key)
        now = self.clock()
        entry: MemoryEntry | None = await self.store.run_read(
            lambda: tx.get_entry(app_id, scope, scope_id, key, now)
        )
        return entry

    async def set(
        self,
        app_id: str,
        scope: str,
        scope_id: str,
        key: str,
        value: Any,
        *,
        ttl: float | None = None,
        origin: Origin | None = None,
    ) -> MemoryEntry:
        """Create or replace the entry; with `ttl` it expires that many seconds from now,
        without it it does not expire (a set replaces an earlier expiry too)."""
        check_scope(scope, scope_id)
        check_key(key)
        check_ttl(ttl)
        storable_json(f"memory value for key {key!r}", value, self.max_value_bytes)
        now = self.clock()
        text = searchable_text(key, value)
        settings = self.store.settings
        chunks = chunking.chunk_text(
            text, settings.knowledge_chunk_chars, settings.knowledge_chunk_overlap_chars
        )
        entry, events = await self.store.run_script(
            lambda: tx.set_entry(
                app_id, scope, scope_id, key, value, ttl, origin or Origin(), now, (text, chunks)
            )
        )
        self.store._published(events)
        return entry  # type: ignore[no-any-return]

    async def delete(
        self,
        app_id: str,
        scope: str,
        scope_id: str,
        key: str,
        *,
        origin: Origin | None = None,
        missing_ok: bool = False,
    ) -> bool:
        """Delete the entry; False (or NotFound unless `missing_ok`) when there was none."""
        check_scope(scope, scope_id)
        check_key(key)
        now = self.clock()
        events = await self.store.run_script(
            lambda: tx.delete_entry(app_id, scope, scope_id, key, origin or Origin(), now)
        )
        if not events:
            if missing_ok:
                return False
            raise NotFound(f"no memory key {key!r} in the {scope} scope {scope_id}")
        self.store._published(events)
        return True

    async def list(
        self,
        app_id: str,
        scope: str,
        scope_id: str,
        *,
        prefix: str = "",
        limit: int = 50,
        cursor: str | None = None,
    ) -> MemoryPage:
        """The scope's live entries whose key starts with `prefix`, by key, a page at a time."""
        check_scope(scope, scope_id)
        if not re.fullmatch(PREFIX_PATTERN, prefix):
            raise InvalidInput(
                f"memory key prefix {prefix!r} is not valid: keys hold letters, digits and "
                "_ . : @ - only"
            )
        if cursor is not None:
            check_key(cursor)
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidInput(f"limit is from 1 to {MAX_LIST_LIMIT}, not {limit}")
        now = self.clock()
        items: list[MemoryEntry] = await self.store.run_read(
            lambda: tx.list_entries(app_id, scope, scope_id, prefix, limit, cursor, now)
        )
        next_cursor = items[-1].key if len(items) == limit else None
        return MemoryPage(items, next_cursor)

    async def search(
        self, app_id: str, scope: str, scope_id: str, query: str, *, limit: int = 10
    ) -> builtins.list[MemoryHit]:
        """The scope's live entries that best match `query` (full text over each entry's key
        and value, the knowledge store's index), best first, at most `limit`."""
        check_scope(scope, scope_id)
        ref = await self.store.run_read(lambda: tx.resolved_scope(app_id, scope, scope_id))
        found = await self.knowledge.search(
            app_id,
            INDEX_NAMESPACE,
            query,
            k=min(limit, self.store.settings.knowledge_max_k),
            filter={"scope": ref.scope, "scope_id": ref.scope_id},
            system=True,
            text_only=True,
        )
        best: dict[str, dict[str, Any]] = {}  # an entry's best chunk
        for hit in found["hits"]:
            best.setdefault(hit["metadata"]["key"], hit)
        now = self.clock()
        keys = list(best)
        entries: dict[str, MemoryEntry] = await self.store.run_read(
            lambda: tx.find_entries(app_id, scope, scope_id, keys, now)
        )
        return [
            MemoryHit(entries[key], best[key]["score"], best[key]["matched"])
            for key in keys
            if key in entries  # an entry that expired is not found
        ]

    # --- expiry -----------------------------------------------------------------------

    async def sweep(self, *, batch: int = SWEEP_BATCH) -> int:
        """Delete every expired entry's row (of every app), `batch` rows per transaction;
        returns how many. Readers never see expired entries, so this only frees space."""
        total = 0
        while True:
            deleted = await self._sweep_batch(self.clock(), batch)
            total += deleted
            if deleted < batch:
                return total

    async def _sweep_batch(self, now: float, batch: int) -> int:
        return int(await self.store.run_script(lambda: tx.sweep_expired(now, batch)))

    def start_sweeper(self, every: float = SWEEP_SECONDS) -> None:
        """Sweep expired entries every `every` seconds until `close`."""
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(every))

    async def _sweep_forever(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                swept = await self.sweep()
            except Exception:  # a database hiccup: the next round tries again
                log.warning("sweeping expired memory entries failed", exc_info=True)
            else:
                if swept:
                    log.debug("swept %d expired memory entries", swept)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None


__all__ = [
    "SCOPES",
    "THIS_APP",
    "MemoryEntry",
    "MemoryHit",
    "MemoryPage",
    "MemoryService",
    "Origin",
]
