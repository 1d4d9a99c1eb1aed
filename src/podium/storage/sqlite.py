"""SQLite backend: writes on one writer thread with the `sqlite3` module, reads in the loop.

Transactions that arrive while one is running are committed together (group commit), each
inside its own savepoint, so one failing transaction does not undo the others and the whole
group costs one commit.

A second connection lives in the event-loop thread. Reads run on it directly (WAL readers
never wait for the writer). A write runs on it too — saving the hop to the writer thread and
back, most of a step's cost on a quiet server — when nothing else is in flight: the writer
thread has no job and at most one run executes in this process. Under concurrency, writes
go to the writer thread, where they are grouped and overlap with node code. If another
process holds the write lock, the loop-thread write gives way to the writer thread rather
than block the event loop.

Several processes may share one file (`podium serve --workers 0` and `podium worker`
processes on one machine). SQLite cannot notify them, so each store watches: every
`PODIUM_SQLITE_WATCH_SECONDS` it reads `PRAGMA data_version` (which changes when another
connection commits) and, when it changed, the apps' last seqs. Events in the log that this
process did not publish itself become the same notifications PostgreSQL's LISTEN/NOTIFY
gives: `events` `{app_id, last_seq, ended}` and `runs` when one was queued. Live-only events
(tokens, `node.started`) do not cross processes on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from podium.errors import Conflict
from podium.events import names
from podium.events.envelope import Event
from podium.storage.migrate import upgrade
from podium.storage.script import Json, Script, Statement
from podium.storage.store import Store
from podium.storage.urls import sqlite_path

sqlite3.register_adapter(Json, Json.dumps)

GROUP_LIMIT = 64
_STOP = object()
# What another process's commit may have to wake here: a `/wait` (a run that ended or waits)
# and idle worker slots (a queued run).
_WATCHED = tuple(sorted(names.RUN_OUTCOMES | {names.RUN_QUEUED}))
_WATCH_SQL = (
    "SELECT e.seq, e.type, e.run_id FROM events e WHERE e.app_num = ? AND e.seq > ? "
    f"AND e.seq <= ? AND e.type IN ({', '.join('?' * len(_WATCHED))}) ORDER BY e.seq"
)

# A look at the apps' seqs takes at most 1/WATCH_SHARE of the event loop's time.
WATCH_SHARE = 20

log = logging.getLogger(__name__)


class SQLiteStore(Store):
    dialect = "sqlite"

    _jobs: queue.SimpleQueue[Any]
    _thread: threading.Thread | None = None
    _local: sqlite3.Connection | None = None  # the event-loop thread's connection
    _outstanding = 0  # jobs handed to the writer thread and not yet settled
    # How long a write waits for another process's write lock before it fails ("locked").
    lock_timeout = 10.0
    _watcher: asyncio.Task[None] | None = None
    # The watcher's view: each app's last seq it has accounted for, and the seqs above that
    # this process published itself (not to be announced back to it).
    _known: dict[str, int]
    _own: dict[str, set[int]]

    async def open(self, *, migrate: bool = True) -> None:
        self.path = sqlite_path(self.url)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if migrate:
            await asyncio.to_thread(upgrade, self.url, "head", self.migrations)
        self._jobs = queue.SimpleQueue()
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._thread = threading.Thread(
            target=self._writer,
            args=(asyncio.get_running_loop(), ready),
            daemon=True,
            name="podium-sqlite-writer",
        )
        self._thread.start()
        await ready
        self._local = self.connect(busy_timeout_ms=0)
        interval = float(getattr(self.settings, "sqlite_watch_seconds", 0.0))
        if interval > 0:
            self._own = {}
            self._known = {
                app_id: int(last)
                for app_id, last in self._local.execute("SELECT id, last_seq FROM apps")
            }
            self._watcher = asyncio.get_running_loop().create_task(self._watch(interval))

    async def _watch(self, interval: float) -> None:
        """Tell this process's listeners what other processes committed (see the module).

        A look reads every app's last seq: with many apps it is spaced out so that it never
        takes more than 1/WATCH_SHARE of the loop's time (a process's own commits change
        `data_version` too, so a busy server looks at every tick)."""
        version = None
        wait = interval
        while True:
            await asyncio.sleep(wait)
            if self._local is None:
                return
            try:
                current = self._local.execute("PRAGMA data_version").fetchone()[0]
                if current != version:
                    version = current
                    started = time.perf_counter()
                    self.check_others()
                    wait = max(interval, (time.perf_counter() - started) * WATCH_SHARE)
            except sqlite3.Error as exc:  # a checkpoint or recovery in another process
                log.debug("watching the database: %s", exc)
                version = None
            except Exception:  # a listener's bug must not end the watch
                log.exception("watching the database")

    def check_others(self) -> None:
        """One look at what other processes committed since the last (the watcher's tick)."""
        if self._local is None:
            return
        wanted = self.remote_channels
        queued = False
        for app_num, app_id, last in self._local.execute("SELECT num, id, last_seq FROM apps"):
            known = self._known.get(app_id, 0)
            if last <= known:
                continue
            self._known[app_id] = last
            own = self._own.pop(app_id, set())
            mine = {seq for seq in own if seq <= last}
            if len(own) > len(mine):
                self._own[app_id] = own - mine
            if len(mine) >= last - known:
                continue  # all of them this process's own
            ended: list[str] = []
            for seq, kind, run_id in self._local.execute(
                _WATCH_SQL, (app_num, known, last, *_WATCHED)
            ):
                if seq in mine:
                    continue
                if kind == names.RUN_QUEUED:
                    queued = True
                elif run_id is not None:
                    ended.append(run_id)
            if wanted is None or "events" in wanted:
                self._remote("events", {"app_id": app_id, "last_seq": last, "ended": ended})
        if queued and (wanted is None or "runs" in wanted):
            self._remote("runs", {})

    def _published(self, events: list[Event]) -> None:
        super()._published(events)
        if self._watcher is None:
            return
        for event in events:  # above what the watcher has seen: to be skipped when it does
            if event.seq is not None and event.seq > self._known.get(event.app_id, 0):
                self._own.setdefault(event.app_id, set()).add(event.seq)

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self._local is not None:  # closed first: the writer's close checkpoints the WAL
            self._local.close()
            self._local = None
        if self._thread is not None:
            self._jobs.put(_STOP)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    async def run_script(self, make_script: Callable[[], Script]) -> Any:
        if self._outstanding == 0 and self.active_runs <= 1 and self._local is not None:
            done, value = _run_here(self._local, make_script)
            if done:
                return value
        return await self._on_writer(make_script)

    async def _on_writer(self, make_script: Callable[[], Script]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._outstanding += 1
        self._jobs.put((make_script, future, loop))
        try:
            return await future
        finally:
            self._outstanding -= 1

    async def run_read(self, make_script: Callable[[], Script]) -> Any:
        if self._local is None:
            return await self.run_script(make_script)
        connection = self._local
        try:
            connection.execute("BEGIN")  # one snapshot for every statement of the script
            try:
                return drive(connection, make_script())
            finally:
                connection.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if not _locked(exc):
                raise
        # Another process is in the middle of something (recovery, a checkpoint): the
        # writer thread's connection waits for it, the event loop does not.
        return await self._on_writer(make_script)

    def connect(self, busy_timeout_ms: int = 10000) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute(f"PRAGMA synchronous = {self.settings.sqlite_synchronous.upper()}")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        return connection

    def _writer(self, loop: asyncio.AbstractEventLoop, ready: asyncio.Future[None]) -> None:
        try:
            # No busy handler: `_begin_immediate` waits for another process's lock itself.
            connection = self.connect(busy_timeout_ms=0)
        except Exception as exc:
            loop.call_soon_threadsafe(ready.set_exception, exc)
            return
        loop.call_soon_threadsafe(ready.set_result, None)
        try:
            while True:
                job = self._jobs.get()
                if job is _STOP:
                    return
                group = [job]
                while len(group) < GROUP_LIMIT:
                    try:
                        job = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if job is _STOP:
                        self._jobs.put(_STOP)
                        break
                    group.append(job)
                self._commit_group(connection, group)
        finally:
            connection.close()

    def _commit_group(self, connection: sqlite3.Connection, group: list[Any]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            _begin_immediate(connection, self.lock_timeout)
            if len(group) == 1:
                outcomes.append(_attempt(connection, group[0][0]))
                if not outcomes[0][0]:
                    connection.execute("ROLLBACK")
                    _settle(group, outcomes)
                    return
            else:
                for make_script, _future, _loop in group:
                    connection.execute("SAVEPOINT job")
                    outcome = _attempt(connection, make_script)
                    if not outcome[0]:
                        connection.execute("ROLLBACK TO job")
                    connection.execute("RELEASE job")
                    outcomes.append(outcome)
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            outcomes = [(False, exc)] * len(group)
        _settle(group, outcomes)


def _locked(exc: sqlite3.OperationalError) -> bool:
    """Whether the error is another connection holding a lock (worth trying again)."""
    return "locked" in str(exc) or "busy" in str(exc)


def _begin_immediate(connection: sqlite3.Connection, timeout: float) -> None:
    """Take the write lock, waiting up to `timeout` seconds while another process holds it.

    SQLite's own busy handler sleeps 1 ms, then 2, 5, 10 ms… between tries, so a lock that
    another process's commit releases after a few hundred microseconds costs a millisecond or
    more, every time two processes write at once. This one tries again after 20 µs, doubling
    to at most 1 ms."""
    delay = 20e-6
    deadline: float | None = None
    while True:
        try:
            connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not _locked(exc):
                raise
            now = time.monotonic()
            if deadline is None:
                deadline = now + timeout
            elif now >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 1e-3)


def _attempt(connection: sqlite3.Connection, make_script: Callable[[], Script]) -> tuple[bool, Any]:
    try:
        return True, drive(connection, make_script())
    except sqlite3.IntegrityError as exc:
        return False, Conflict(f"the change conflicts with stored data: {exc}")
    except Exception as exc:
        return False, exc


def _run_here(
    connection: sqlite3.Connection, make_script: Callable[[], Script]
) -> tuple[bool, Any]:
    """Run a write transaction on `connection`: `(True, value)`, or `(False, None)` when
    another connection holds the write lock (nothing was done)."""
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False, None
    try:
        value = drive(connection, make_script())
        connection.execute("COMMIT")
    except BaseException as exc:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        if isinstance(exc, sqlite3.IntegrityError):
            raise Conflict(f"the change conflicts with stored data: {exc}") from None
        raise
    return True, value


def _settle(group: list[Any], outcomes: list[tuple[bool, Any]]) -> None:
    for (_make, future, loop), (ok, value) in zip(group, outcomes, strict=True):
        loop.call_soon_threadsafe(_resolve, future, ok, value)


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def drive(connection: sqlite3.Connection, script: Script) -> Any:
    """Run a script's statements on `connection`; returns the script's value."""
    result: Any = None
    try:
        while True:
            result = _execute(connection, script.send(result))
    except StopIteration as stop:
        return stop.value


def _execute(connection: sqlite3.Connection, statement: Statement) -> Any:
    if statement.mode == "execute":
        return connection.execute(statement.sql, statement.args).rowcount
    if statement.mode == "one":
        rows = connection.execute(statement.sql, statement.args).fetchall()
        return rows[0] if rows else None
    if statement.mode == "all":
        return connection.execute(statement.sql, statement.args).fetchall()
    if statement.mode == "dialect":
        return "sqlite"
    connection.executemany(statement.sql, statement.args)
    return None
