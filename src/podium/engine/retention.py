"""Retention: what the server keeps of finished work, and the prune that lets the rest go.

A policy says, per kind (`runs`, `steps`, `events`, `tool_calls`, `artifact_versions`),
`days` (keep what is younger) and `keep_last` (keep the newest N: runs and tool calls per
app, events per app's log, versions per artifact). A row goes when it is outside every bound
given; a kind with no bound is kept whole. The server's policy is PODIUM_RETENTION; an app's
own (PUT /apps/{app}/retention, within PODIUM_RETENTION_MAX_DAYS and
PODIUM_RETENTION_MAX_KEEP_LAST) wins field by field. docs/retention.md tells the rules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from podium.config import Settings
from podium.errors import LimitTooHigh, LogTruncated, NotFound
from podium.storage import retention as sql
from podium.storage import sizes
from podium.storage.store import Store

KINDS = ("runs", "steps", "events", "tool_calls", "artifact_versions")
DAY = 86_400.0


class RuleBody(BaseModel):
    """One kind's bounds; null (or left out): the server's."""

    model_config = ConfigDict(extra="forbid")

    days: float | None = Field(default=None, ge=0, description="keep what is younger")
    keep_last: int | None = Field(default=None, ge=0, description="keep the newest N")

    @field_validator("days", "keep_last", mode="before")
    @classmethod
    def _no_booleans(cls, value: object) -> object:
        if isinstance(value, bool):  # pydantic takes `false` as 0: keep nothing
            raise ValueError("Input should be a valid number, not true or false")
        return value


class RetentionPolicy(BaseModel):
    """An app's own policy: a rule per kind (a kind left out follows the server)."""

    model_config = ConfigDict(extra="forbid")

    runs: RuleBody | None = None
    steps: RuleBody | None = None
    events: RuleBody | None = None
    tool_calls: RuleBody | None = None
    artifact_versions: RuleBody | None = None


@dataclass
class PruneReport:
    """Rows deleted (or, dry, that would be), by app and kind."""

    dry_run: bool
    apps: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def totals(self) -> dict[str, int]:
        totals = dict.fromkeys(KINDS, 0)
        for counts in self.apps.values():
            for kind, count in counts.items():
                totals[kind] += count
        return totals

    def to_json(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "totals": self.totals, "apps": self.apps}


def check_caps(policy: RetentionPolicy, settings: Settings) -> None:
    """Refuse an app's policy that keeps more than the server lets an app keep."""
    for kind in KINDS:
        rule = getattr(policy, kind)
        if rule is None:
            continue
        if rule.days is not None and rule.days > settings.retention_max_days:
            raise LimitTooHigh(
                f"{kind}.days is {rule.days:g}; this server keeps at most "
                f"{settings.retention_max_days:g} days (PODIUM_RETENTION_MAX_DAYS)",
                details={
                    "setting": "PODIUM_RETENTION_MAX_DAYS",
                    "cap": settings.retention_max_days,
                },
            )
        if rule.keep_last is not None and rule.keep_last > settings.retention_max_keep_last:
            raise LimitTooHigh(
                f"{kind}.keep_last is {rule.keep_last}; this server keeps at most "
                f"{settings.retention_max_keep_last} (PODIUM_RETENTION_MAX_KEEP_LAST)",
                details={
                    "setting": "PODIUM_RETENTION_MAX_KEEP_LAST",
                    "cap": settings.retention_max_keep_last,
                },
            )


def effective(own: dict[str, Any] | None, settings: Settings) -> dict[str, dict[str, Any]]:
    """The policy in force for an app: its own fields over the server's, for every kind."""
    policy: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        server = settings.retention.get(kind) or {}
        mine = (own or {}).get(kind) or {}
        policy[kind] = {
            key: mine.get(key) if mine.get(key) is not None else server.get(key)
            for key in ("days", "keep_last")
        }
    return policy


def rules_at(policy: dict[str, dict[str, Any]], now: float) -> dict[str, sql.Rule]:
    """The policy as cut-off times and counts at `now`."""
    rules = {}
    for kind in KINDS:
        days = policy[kind].get("days")
        keep_last = policy[kind].get("keep_last")
        rules[kind] = sql.Rule(
            cutoff=None if days is None else now - float(days) * DAY,
            keep_last=None if keep_last is None else int(keep_last),
        )
    return rules


class Retention:
    """Policies and prunes over one store."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    async def policy(self, app_id: str) -> dict[str, Any]:
        """`{policy, effective, caps}`: the app's own policy, what is in force, the caps."""
        own = await self.store.run_read(lambda: sql.get_policy(app_id))
        return {
            "policy": own or {},
            "effective": effective(own, self.settings),
            "caps": {
                "max_days": self.settings.retention_max_days,
                "max_keep_last": self.settings.retention_max_keep_last,
            },
        }

    async def set_policy(self, app_id: str, policy: RetentionPolicy) -> dict[str, Any]:
        """Replace the app's own policy (checked against the caps)."""
        check_caps(policy, self.settings)
        own = policy.model_dump(exclude_none=True)
        await self.store.run_script(lambda: sql.put_policy(app_id, own, time.time()))
        return await self.policy(app_id)

    async def check_since(self, app_id: str, since: int) -> None:
        """Raise `LogTruncated` when events after `since` were pruned (a client that saw up
        to `since` would miss some); `since` 0 asks for whatever the log holds."""
        if since <= 0:
            return
        bounds = await self.store.run_read(lambda: sql.oldest_seq(app_id))
        if bounds is None:
            raise NotFound(f"app {app_id!r} does not exist")
        oldest, _last = bounds
        if since + 1 < oldest:
            raise LogTruncated(
                f"events {since + 1} to {oldest - 1} were pruned by the retention policy; "
                f"read the current state (sessions, runs, artifacts) again and go on from "
                f"since={oldest - 1}",
                details={"since": since, "oldest_seq": oldest},
            )

    async def prune(
        self, *, dry_run: bool = False, now: float | None = None, app_id: str | None = None
    ) -> PruneReport:
        """Delete what the policies let go (in batches), or with `dry_run` only count it."""
        now = time.time() if now is None else now
        report = PruneReport(dry_run=dry_run)
        for app, app_num, last_seq in await self.store.run_read(sql.apps):
            if app_id is not None and app != app_id:
                continue
            own = await self.store.run_read(partial(sql.get_policy, app))
            rules = rules_at(effective(own, self.settings), now)
            if not any(rule.active for rule in rules.values()):
                continue
            cut: sql.LogCut = await self.store.run_read(
                partial(sql.log_cut, app, app_num, last_seq, rules["events"])
            )
            if dry_run:
                counts = await self.store.run_read(partial(sql.would_go, app, rules, cut.floor))
                counts["events"] = max(cut.cut - cut.first + 1, 0)
            else:
                counts = await self._delete(app, app_num, rules, cut)
            report.apps[app] = {kind: counts.get(kind, 0) for kind in KINDS}
        return report

    async def _delete(
        self, app: str, app_num: int, rules: dict[str, sql.Rule], cut: sql.LogCut
    ) -> dict[str, int]:
        batch = self.settings.retention_batch
        run, read = self.store.run_script, self.store.run_read
        counts = dict.fromkeys(KINDS, 0)
        # The log first, from the oldest up: what remains is always a contiguous suffix.
        low = cut.first
        while low <= cut.cut:
            upto = min(cut.cut, low + batch - 1)
            counts["events"] += await run(partial(sql.delete_events, app_num, upto))
            low = upto + 1
        # Steps and tool calls before runs: their `keep_last` counts runs and tool calls as
        # they stand now, as the dry run does.
        steps = partial(sql.step_run_ids, app, rules["steps"], cut.floor, batch)
        seen: set[Any] = set()
        while ids := _new(await read(steps), seen):
            counts["steps"] += await run(partial(sql.delete_steps, ids))
        tools = partial(sql.tool_call_ids, app, rules["tool_calls"], batch)
        seen = set()
        while ids := _new(await read(tools), seen):
            counts["tool_calls"] += await run(partial(sql.delete_tool_calls, ids))
        runs = partial(sql.run_ids, app, rules["runs"], cut.floor, batch)
        seen = set()
        while ids := _new(await read(runs), seen):
            deleted = await run(partial(sql.delete_runs, ids))
            for kind in ("runs", "steps", "tool_calls"):
                counts[kind] += deleted[kind]
        versions = partial(sql.version_keys, app, rules["artifact_versions"], batch)
        seen = set()
        while keys := _new(await read(versions), seen):
            counts["artifact_versions"] += await run(partial(sql.delete_versions, keys))
        return counts


def _new(ids: list[Any], seen: set[Any]) -> list[Any]:
    """The ids not tried yet (a run that stays after its delete was checked again, because
    its session began to wait meanwhile, is not tried twice)."""
    fresh = [i for i in ids if i not in seen]
    seen.update(fresh)
    return fresh


async def database_stats(store: Store) -> dict[str, Any]:
    """Rows and bytes per table, rows per app, and the database's size (`podium db stats`):
    `{backend, bytes, free_bytes, tables: {name: {rows, bytes}}, apps: {id: {…}}}`; a table's
    `bytes` is None where the backend cannot tell (SQLite built without `dbstat`)."""
    rows, apps = await store.run_read(sizes.row_counts)
    table_bytes: dict[str, int] | None
    free: int | None = None
    if store.dialect == "sqlite":
        page, count, free_pages = await store.run_read(sizes.sqlite_pages)
        total, free = page * count, page * free_pages
        try:
            table_bytes = await store.run_read(sizes.sqlite_table_bytes)
        except Exception:  # no dbstat in this SQLite: the file's size only
            table_bytes = None
    else:
        table_bytes, total = await store.run_read(sizes.postgres_table_bytes)
    tables = {
        name: {"rows": count, "bytes": None if table_bytes is None else table_bytes.get(name, 0)}
        for name, count in rows.items()
    }
    return {
        "backend": store.dialect,
        "bytes": total,
        "free_bytes": free,
        "tables": tables,
        "apps": apps,
    }
