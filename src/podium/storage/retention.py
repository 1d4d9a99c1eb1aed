"""Retention: the transaction scripts that find and delete what a policy lets go.

Every delete is a batch of at most `batch` rows (or runs) in its own short transaction, so
the writers of a busy server wait at most one batch. What may go is found by a read first
(no write lock held), then deleted by keys with its conditions checked again in the same
statement, so a run that started again meanwhile, or a session that began to wait, stays.

The event log is kept as a contiguous suffix per app: events go only from the oldest up
(`seq <= cut`), so the seqs that remain have no gaps. Since migration 0011 a `node.completed`
event may be a reference to its step (`event_refs`): a run's steps therefore go only once
every event of the run is gone, which holds when the run ended before the oldest event kept
(less `CLOCK_MARGIN` for the clocks of several processes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from podium.storage.records import ENDED_RUN_STATUSES
from podium.storage.script import Json, Script, all_rows, execute, loads, one

ENDED = ", ".join(f"'{status}'" for status in ENDED_RUN_STATUSES)
# A run's events were all written by the time its last commit set `ended_at`; another
# process's clock may run ahead of this one by at most this much.
CLOCK_MARGIN = 60.0

# A session that waits for an answer, or has a run that has not ended, keeps everything of
# it: its runs, their steps and calls, its tool calls and its artifacts' versions.
SESSION_FREE = (
    "NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = {col} AND s.status = 'waiting') "
    "AND NOT EXISTS (SELECT 1 FROM runs o WHERE o.session_id = {col} "
    f"AND o.status NOT IN ({ENDED}))"
)


@dataclass(frozen=True, slots=True)
class Rule:
    """What one kind keeps: rows newer than `cutoff` (a time) or among the newest
    `keep_last`; None is no such bound. Both None: the kind is kept whole."""

    cutoff: float | None = None
    keep_last: int | None = None

    @property
    def active(self) -> bool:
        return self.cutoff is not None or self.keep_last is not None


@dataclass(frozen=True, slots=True)
class LogCut:
    """An app's event log: its oldest seq, the last seq that goes (`cut`; nothing when it
    is below `first`), and the time before which a run's events are all at or below it
    (None: every event goes, so no run is held back by the log)."""

    first: int
    cut: int
    last_seq: int
    floor: float | None


def apps() -> Script:
    """Every app: `(id, num, last_seq)`."""
    rows = yield all_rows("SELECT id, num, last_seq FROM apps ORDER BY num")
    return [(row["id"], row["num"], row["last_seq"]) for row in rows]


def _ts(app_num: int, seq: int) -> Script:
    row = yield one("SELECT ts FROM events WHERE app_num = ? AND seq = ?", app_num, seq)
    return None if row is None else row["ts"]


def log_cut(app_id: str, app_num: int, last_seq: int, rule: Rule) -> Script:
    """Where the app's log is cut by `rule`, and never past a pack handler's cursor (the
    events a handler has still to see stay)."""
    row = yield one("SELECT MIN(seq) AS first FROM events WHERE app_num = ?", app_num)
    first = row["first"] if row["first"] is not None else last_seq + 1
    cut = first - 1
    if rule.active:
        cut = last_seq
        if rule.keep_last is not None:
            cut = min(cut, last_seq - rule.keep_last)
        if rule.cutoff is not None:
            # The newest seq written before the cutoff: seqs only grow with time, so a
            # binary search over the contiguous suffix finds it in a few point reads.
            low, high = first - 1, min(cut, last_seq)
            while low < high:
                middle = (low + high + 1) // 2
                ts = yield from _ts(app_num, middle)
                if ts is not None and ts < rule.cutoff:
                    low = middle
                else:
                    high = middle - 1
            cut = low
        cursor = yield one(
            "SELECT MIN(last_seq) AS seq FROM pack_handler_cursors WHERE app_id = ?", app_id
        )
        if cursor["seq"] is not None:
            cut = min(cut, cursor["seq"])
        cut = max(cut, first - 1)
    floor = None
    if cut < last_seq:
        ts = yield from _ts(app_num, cut + 1)
        floor = (ts if ts is not None else 0.0) - CLOCK_MARGIN
    return LogCut(first, cut, last_seq, floor)


def delete_events(app_num: int, upto: int) -> Script:
    """Delete the app's events with seq <= `upto` (the caller bounds the batch)."""
    count = yield execute("DELETE FROM events WHERE app_num = ? AND seq <= ?", app_num, upto)
    return count


def oldest_seq(app_id: str) -> Script:
    """`(oldest seq kept, last seq)` of an app's log; the oldest is `last + 1` when the log
    is empty. None when there is no such app."""
    row = yield one("SELECT num, last_seq FROM apps WHERE id = ?", app_id)
    if row is None:
        return None
    first = yield one("SELECT MIN(seq) AS seq FROM events WHERE app_num = ?", row["num"])
    oldest = first["seq"] if first["seq"] is not None else row["last_seq"] + 1
    return oldest, row["last_seq"]


# --- runs and steps ---------------------------------------------------------------------


def _runs_query(app_id: str, rule: Rule, floor: float | None) -> tuple[str, list[Any]]:
    """The runs of `app_id` that `rule` lets go (the finished runs of free sessions that
    ended before the log floor), as `SELECT r.id …` and its arguments."""
    sql = (
        f"SELECT r.id FROM runs r WHERE r.app_id = ? AND r.status IN ({ENDED}) "
        f"AND r.ended_at IS NOT NULL AND {SESSION_FREE.format(col='r.session_id')}"
    )
    args: list[Any] = [app_id]
    if floor is not None:
        sql += " AND r.ended_at < ?"
        args.append(floor)
    if rule.cutoff is not None:
        sql += " AND r.ended_at < ?"
        args.append(rule.cutoff)
    if rule.keep_last is not None:
        sql += (
            " AND r.id NOT IN (SELECT k.id FROM runs k WHERE k.app_id = ? "
            f"AND k.status IN ({ENDED}) ORDER BY k.ended_at DESC, k.id DESC LIMIT ?)"
        )
        args += [app_id, rule.keep_last]
    return sql, args


def run_ids(app_id: str, rule: Rule, floor: float | None, limit: int) -> Script:
    """Up to `limit` runs that `rule` lets go, oldest first."""
    if not rule.active:
        return []
    sql, args = _runs_query(app_id, rule, floor)
    rows = yield all_rows(f"{sql} ORDER BY r.ended_at, r.id LIMIT ?", *args, limit)
    return [row["id"] for row in rows]


def _in(ids: Sequence[str]) -> str:
    return ", ".join("?" for _ in ids)


def _still_free(ids: Sequence[str]) -> str:
    """The runs of `ids` still finished and in a free session (checked in the delete)."""
    return (
        f"SELECT r.id FROM runs r WHERE r.id IN ({_in(ids)}) AND r.status IN ({ENDED}) "
        f"AND {SESSION_FREE.format(col='r.session_id')}"
    )


def delete_runs(ids: Sequence[str]) -> Script:
    """Delete runs of `ids` (with their steps, calls, questions, messages and tool calls);
    returns `{"runs", "steps", "tool_calls"}` counts."""
    rows = yield all_rows(_still_free(ids), *ids)
    kept = [row["id"] for row in rows]
    if not kept:
        return {"runs": 0, "steps": 0, "tool_calls": 0}
    marks = _in(kept)
    steps = yield one(f"SELECT COUNT(*) AS n FROM steps WHERE run_id IN ({marks})", *kept)
    tools = yield execute(f"DELETE FROM tool_calls WHERE run_id IN ({marks})", *kept)
    yield execute(f"DELETE FROM calls WHERE run_id IN ({marks})", *kept)
    yield execute(f"DELETE FROM steps WHERE run_id IN ({marks})", *kept)
    runs = yield execute(f"DELETE FROM runs WHERE id IN ({marks})", *kept)
    return {"runs": runs, "steps": steps["n"], "tool_calls": tools}


def step_run_ids(app_id: str, rule: Rule, floor: float | None, limit: int) -> Script:
    """Up to `limit` runs whose steps `rule` lets go (and that still have steps)."""
    if not rule.active:
        return []
    sql, args = _runs_query(app_id, rule, floor)
    sql += " AND EXISTS (SELECT 1 FROM steps x WHERE x.run_id = r.id)"
    rows = yield all_rows(f"{sql} ORDER BY r.ended_at, r.id LIMIT ?", *args, limit)
    return [row["id"] for row in rows]


def delete_steps(ids: Sequence[str]) -> Script:
    """Delete the steps and recorded calls of runs of `ids`; returns the steps deleted."""
    rows = yield all_rows(_still_free(ids), *ids)
    kept = [row["id"] for row in rows]
    if not kept:
        return 0
    yield execute(f"DELETE FROM calls WHERE run_id IN ({_in(kept)})", *kept)
    count = yield execute(f"DELETE FROM steps WHERE run_id IN ({_in(kept)})", *kept)
    return count


# --- tool calls and artifact versions ----------------------------------------------------


def _tool_calls_query(app_id: str, rule: Rule) -> tuple[str, list[Any]]:
    sql = (
        "SELECT t.id FROM tool_calls t WHERE t.app_id = ? AND (t.session_id IS NULL OR "
        f"({SESSION_FREE.format(col='t.session_id')}))"
    )
    args: list[Any] = [app_id]
    if rule.cutoff is not None:
        sql += " AND t.created_at < ?"
        args.append(rule.cutoff)
    if rule.keep_last is not None:
        sql += (
            " AND t.id NOT IN (SELECT k.id FROM tool_calls k WHERE k.app_id = ? "
            "ORDER BY k.id DESC LIMIT ?)"
        )
        args += [app_id, rule.keep_last]
    return sql, args


def tool_call_ids(app_id: str, rule: Rule, limit: int) -> Script:
    if not rule.active:
        return []
    sql, args = _tool_calls_query(app_id, rule)
    rows = yield all_rows(f"{sql} ORDER BY t.id LIMIT ?", *args, limit)
    return [row["id"] for row in rows]


def delete_tool_calls(ids: Sequence[str]) -> Script:
    count = yield execute(
        f"DELETE FROM tool_calls WHERE id IN ({_in(ids)}) AND (session_id IS NULL OR "
        f"({SESSION_FREE.format(col='tool_calls.session_id')}))",
        *ids,
    )
    return count


def _versions_query(app_id: str, rule: Rule) -> tuple[str, list[Any]]:
    sql = (
        "SELECT v.artifact_id, v.version FROM artifact_versions v "
        "JOIN artifacts a ON a.id = v.artifact_id WHERE a.app_id = ? AND (a.session_id IS NULL "
        f"OR ({SESSION_FREE.format(col='a.session_id')}))"
    )
    args: list[Any] = [app_id]
    if rule.cutoff is not None:
        sql += " AND v.created_at < ?"
        args.append(rule.cutoff)
    if rule.keep_last is not None:
        sql += " AND v.version <= a.version - ?"
        args.append(rule.keep_last)
    return sql, args


def version_keys(app_id: str, rule: Rule, limit: int) -> Script:
    """Up to `limit` artifact versions `(artifact_id, version)` that `rule` lets go."""
    if not rule.active:
        return []
    sql, args = _versions_query(app_id, rule)
    rows = yield all_rows(f"{sql} ORDER BY v.created_at, v.version LIMIT ?", *args, limit)
    return [(row["artifact_id"], row["version"]) for row in rows]


def delete_versions(keys: Sequence[tuple[str, int]]) -> Script:
    count = 0
    for artifact_id, version in keys:
        count += yield execute(
            "DELETE FROM artifact_versions WHERE artifact_id = ? AND version = ?",
            artifact_id,
            version,
        )
    return count


# --- what a prune would do ----------------------------------------------------------------


def would_go(app_id: str, rules: dict[str, Rule], floor: float | None) -> Script:
    """The rows a prune with `rules` would delete now, by table (events aside)."""
    counts = {"runs": 0, "steps": 0, "tool_calls": 0, "artifact_versions": 0}
    runs_sql, runs_args = _runs_query(app_id, rules["runs"], floor)
    steps_sql, steps_args = _runs_query(app_id, rules["steps"], floor)
    pruned_runs: list[str] = []
    if rules["runs"].active:
        row = yield one(f"SELECT COUNT(*) AS n FROM ({runs_sql}) q", *runs_args)
        counts["runs"] = row["n"]
        pruned_runs = [f"run_id IN ({runs_sql})"]
    step_sources = list(pruned_runs)
    step_args: list[Any] = list(runs_args) if pruned_runs else []
    if rules["steps"].active:
        step_sources.append(f"run_id IN ({steps_sql})")
        step_args += steps_args
    if step_sources:
        row = yield one(
            f"SELECT COUNT(*) AS n FROM steps WHERE {' OR '.join(step_sources)}", *step_args
        )
        counts["steps"] = row["n"]
    tool_sources = list(pruned_runs)
    tool_args: list[Any] = list(runs_args) if pruned_runs else []
    if rules["tool_calls"].active:
        tools_sql, tools_args = _tool_calls_query(app_id, rules["tool_calls"])
        tool_sources.append(f"id IN ({tools_sql})")
        tool_args += tools_args
    if tool_sources:
        row = yield one(
            f"SELECT COUNT(*) AS n FROM tool_calls WHERE {' OR '.join(tool_sources)}", *tool_args
        )
        counts["tool_calls"] = row["n"]
    if rules["artifact_versions"].active:
        versions_sql, versions_args = _versions_query(app_id, rules["artifact_versions"])
        row = yield one(f"SELECT COUNT(*) AS n FROM ({versions_sql}) q", *versions_args)
        counts["artifact_versions"] = row["n"]
    return counts


# --- policies -------------------------------------------------------------------------


def get_policy(app_id: str) -> Script:
    """An app's own policy (a JSON object), or None."""
    row = yield one("SELECT policy FROM retention_policies WHERE app_id = ?", app_id)
    return None if row is None else loads(row["policy"])


def put_policy(app_id: str, policy: dict[str, Any], now: float) -> Script:
    """Replace an app's own policy."""
    yield execute("DELETE FROM retention_policies WHERE app_id = ?", app_id)
    yield execute(
        "INSERT INTO retention_policies (app_id, policy, updated_at) VALUES (?, ?, ?)",
        app_id,
        Json(policy),
        now,
    )
