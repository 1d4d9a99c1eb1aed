"""PostgreSQL backend: each transaction script runs in one asyncpg transaction.

Several processes may share the database, so this backend tells them what changed with
LISTEN/NOTIFY (unless `PODIUM_NOTIFY=off`): after a commit that wrote events it notifies
`podium_events` with `{app_id, last_seq}` per app, and `podium_runs` when a run was queued;
live-only events go on `podium_live` as `{after, event}`. Each store listens on one dedicated
connection and hands the other processes' notifications to its remote listeners; when that
connection drops it reconnects and sends `events` with `app_id` None, so every subscriber
reads the log again and nothing is lost. Notifications are only wake-ups: the log stays the
source of truth, and the subscribers' poll every `poll_seconds` remains as the safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections import deque
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import asyncpg

from podium.errors import Conflict, StoreUnavailable
from podium.events import names
from podium.events.envelope import Event
from podium.storage.migrate import upgrade
from podium.storage.script import Json, Script, Statement
from podium.storage.store import Store
from podium.storage.urls import asyncpg_dsn

log = logging.getLogger(__name__)

CHANNELS = {"podium_events": "events", "podium_runs": "runs", "podium_live": "live"}
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
MAX_PAYLOAD = 7900
# Notifications sent in one statement, and how long close() waits for the unsent ones.
NOTIFY_BATCH = 500
CLOSE_SEND_SECONDS = 2.0
# How long a write waits for the live-only events published before it to be sent.
LIVE_FLUSH_SECONDS = 1.0
# An events notification names the runs of its commit that reached an outcome, up to this.
MAX_ENDED = 100
# What says the connection went away under a call (its transaction was rolled back).
CONNECTION_LOST = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.IdleInTransactionSessionTimeoutError,
    asyncpg.exceptions.OperatorInterventionError,
)


@lru_cache(maxsize=512)
def numbered(sql: str) -> str:
    """`?` placeholders as asyncpg's `$1, $2, …` (our SQL has no `?` inside literals)."""
    parts = sql.split("?")
    out = [parts[0]]
    for index, part in enumerate(parts[1:], start=1):
        out.append(f"${index}{part}")
    return "".join(out)


def _argument(value: Any) -> Any:
    return value.dumps() if isinstance(value, Json) else value


def idle_timeout(lease_seconds: float) -> float:
    """Seconds a pool connection may sit idle inside a transaction: half the lease, at least
    one second (a script never waits between its statements for anything but PostgreSQL)."""
    return max(1.0, lease_seconds / 2)


async def _keep_session(_connection: Any) -> None:
    """The pool's reset on release. asyncpg rolls back an open transaction and drops the
    listeners before calling it; its default reset then sends `RESET ALL`, `UNLISTEN *` and
    the like, one more round trip per store call. Pool connections never change session
    state (no SET, no LISTEN, only transaction-scoped advisory locks), so nothing is left."""


class PostgresStore(Store):
    dialect = "postgresql"

    def __init__(self, url: str, settings: Any = None) -> None:
        super().__init__(url, settings)
        self._pool: asyncpg.Pool | None = None
        self._listening: Any = None  # the dedicated LISTEN connection
        self._closing = False
        # Tells this store's own notifications from the other processes'.
        self._origin = f"{os.getpid()}:{id(self):x}"
        self._outbox: deque[tuple[str, str]] = deque()
        self._sender: asyncio.Task[None] | None = None
        # Notifications queued and sent so far (in order), the count when a live-only one was
        # last queued, and an event set (and replaced) after each batch sent.
        self._queued = self._sent = self._live_mark = 0
        self._batch_sent = asyncio.Event()
        self._reconnect: asyncio.Task[None] | None = None

    async def open(self, *, migrate: bool = True) -> None:
        if migrate:
            await asyncio.to_thread(upgrade, self.url, "head", self.migrations)
        lease = float(getattr(self.settings, "lease_seconds", 30.0))
        self._pool = await asyncpg.create_pool(
            asyncpg_dsn(self.url),
            min_size=1,
            max_size=int(getattr(self.settings, "pg_pool_size", 3)),
            reset=_keep_session,
            # A process frozen inside a transaction (SIGSTOP, a stalled VM) would hold its
            # app's row and every writer of the app would wait for it: the server ends such
            # a session before the run's lease runs out, so that another worker takes over.
            server_settings={
                "idle_in_transaction_session_timeout": str(int(idle_timeout(lease) * 1000))
            },
        )
        self._closing = False
        if self.settings.notify:
            await self._listen()

    async def _listen(self) -> None:
        connection = await asyncpg.connect(asyncpg_dsn(self.url))
        try:
            wanted = self.remote_channels
            for channel, kind in CHANNELS.items():
                if wanted is None or kind in wanted:
                    await connection.add_listener(channel, self._notified)
        except BaseException:
            # Failed or cancelled half-way (a close() during a reconnect): never leak it.
            connection.terminate()
            raise
        if self._closing:
            connection.terminate()
            return
        connection.add_termination_listener(self._lost)
        self._listening = connection

    def _notified(self, _connection: Any, _pid: int, channel: str, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            log.warning("ignored a malformed notification on %s", channel)
            return
        if message.pop("origin", None) == self._origin:
            return
        self._remote(CHANNELS[channel], message)

    def _lost(self, _connection: Any) -> None:
        if self._closing:
            return
        self._listening = None
        log.warning("the LISTEN connection was lost; reconnecting")
        self._reconnect = asyncio.get_running_loop().create_task(self._relisten())

    async def _relisten(self) -> None:
        delay = 0.1
        while not self._closing:
            try:
                await self._listen()
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            # Notifications sent while it was down are lost: everyone reads again.
            self._remote("events", {"app_id": None, "last_seq": 0})
            self._remote("runs", {})
            return

    def _notify(self, channel: str, message: dict[str, Any]) -> None:
        """NOTIFY in the background, after the commit (a lost notification only delays a
        wake-up until the next poll)."""
        if not self.settings.notify or self._pool is None:
            return
        payload = json.dumps({**message, "origin": self._origin}, default=str)
        if len(payload.encode()) > MAX_PAYLOAD:
            log.warning("not sent to other processes (%d bytes): %s", len(payload), channel)
            return
        # One sender, in order: the other processes get the tokens as they were published.
        self._outbox.append((channel, payload))
        self._queued += 1
        if channel == "podium_live":
            self._live_mark = self._queued
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        # What queued up while the previous batch was sent goes in one statement, in order:
        # a run streaming tokens would otherwise leave a queue of round trips behind it.
        while self._outbox and self._pool is not None:
            batch = [self._outbox.popleft() for _ in range(min(len(self._outbox), NOTIFY_BATCH))]
            try:
                await self._pool.execute(
                    "SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS t(c, p)",
                    [channel for channel, _ in batch],
                    [payload for _, payload in batch],
                )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("NOTIFY of %d messages failed: %s", len(batch), exc)
            self._sent += len(batch)
            self._batch_sent.set()
            self._batch_sent = asyncio.Event()

    async def _live_sent(self) -> None:
        """Wait (briefly) until the live-only events published so far are sent. A commit
        made visible before the tokens that preceded it were sent could be read by another
        process first: a client would see the message complete and miss its last tokens."""
        mark = self._live_mark
        deadline = asyncio.get_running_loop().time() + LIVE_FLUSH_SECONDS
        while self._sent < mark and self._sender is not None and not self._sender.done():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._batch_sent.wait(), left)

    def _published(self, events: list[Event]) -> None:
        super()._published(events)
        last: dict[str, int] = {}
        ended: dict[str, list[str]] = {}
        for event in events:
            if event.seq is not None:
                last[event.app_id] = max(last.get(event.app_id, 0), event.seq)
                if event.type in names.RUN_OUTCOMES and event.run_id is not None:
                    ended.setdefault(event.app_id, []).append(event.run_id)
        for app_id, seq in last.items():
            message: dict[str, Any] = {"app_id": app_id, "last_seq": seq}
            runs = ended.get(app_id, [])
            if len(runs) <= MAX_ENDED:
                # The runs that reached an outcome: only their waiters read their run again.
                # Without the list (too many) every waiter of the app reads its run.
                message["ended"] = runs
            self._notify("podium_events", message)
        if any(event.type == "run.queued" for event in events):
            self._notify("podium_runs", {})

    def publish_live(self, after: int, event: Event) -> None:
        self._notify("podium_live", {"after": after, "event": event.to_json()})

    async def close(self) -> None:
        self._closing = True
        if self._reconnect is not None:
            self._reconnect.cancel()
            await asyncio.gather(self._reconnect, return_exceptions=True)
            self._reconnect = None
        if self._sender is not None:
            # Best effort: what is still unsent after a short wait only delays the other
            # processes until their next poll.
            try:
                await asyncio.wait_for(asyncio.shield(self._sender), CLOSE_SEND_SECONDS)
            except TimeoutError:
                self._outbox.clear()
                self._sent = self._queued
                self._sender.cancel()
                await asyncio.gather(self._sender, return_exceptions=True)
        if self._listening is not None:
            connection, self._listening = self._listening, None
            await connection.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def run_script(self, make_script: Callable[[], Script]) -> Any:
        assert self._pool is not None, "call open() first"
        if self._sent < self._live_mark:
            await self._live_sent()
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                return await drive(connection, make_script())
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise Conflict(f"the change conflicts with stored data: {exc}") from None
        except (*CONNECTION_LOST, asyncpg.InterfaceError) as exc:
            if isinstance(exc, asyncpg.InterfaceError) and "closed" not in str(exc):
                raise  # a misuse of the connection, not a lost one
            raise StoreUnavailable(
                f"the database connection was lost; nothing was committed: {exc}"
            ) from None


async def drive(connection: Any, script: Script) -> Any:
    """Run a script's statements on an asyncpg connection; returns the script's value."""
    result: Any = None
    try:
        while True:
            statement = script.send(result)
            result = await _execute(connection, statement)
    except StopIteration as stop:
        return stop.value


async def _execute(connection: Any, statement: Statement) -> Any:
    if statement.mode == "dialect":
        return PostgresStore.dialect
    sql = numbered(statement.sql)
    if statement.mode == "many":
        rows = [[_argument(value) for value in row] for row in statement.args]
        await connection.executemany(sql, rows)
        return None
    args = [_argument(value) for value in statement.args]
    if statement.mode == "execute":
        status: str = await connection.execute(sql, *args)
        return int(status.rsplit(" ", 1)[-1]) if status[-1].isdigit() else 0
    if statement.mode == "one":
        return await connection.fetchrow(sql, *args)
    return await connection.fetch(sql, *args)
