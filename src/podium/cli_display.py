"""What the command line shows and asks: a run followed live to its end (the board of its
node statuses, the questions it asks), tables, JSON.

On a terminal the board is a rich Live table; otherwise (a pipe, a file, a test) every
status change is one plain line, so the output can be read by a script.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from podium.assembly import Podium, default_registry
from podium.config import Settings
from podium.errors import Conflict, PodiumError
from podium.events import names
from podium.events.envelope import Event
from podium.storage.records import (
    ENDED_RUN_STATUSES,
    InterruptRecord,
    RunRecord,
    SessionRecord,
    StepRecord,
)
from podium.storage.store import Store, open_store

PAGE = 500
EXIT_FAILED, EXIT_USAGE, EXIT_WAITING, EXIT_INTERRUPTED = 1, 2, 3, 130
ENDED_EVENTS = frozenset({names.RUN_SUCCEEDED, names.RUN_FAILED, names.RUN_CANCELLED})

STATUS_STYLES = {
    "pending": "dim",
    "running": "bold cyan",
    "completed": "green",
    "failed": "bold red",
    "skipped": "dim",
    "waiting": "bold yellow",
    "stopped": "yellow",
}
STATUS_MARKS = {
    "pending": "·",
    "running": "●",
    "completed": "✓",
    "failed": "✗",
    "skipped": "–",
    "waiting": "?",
    "stopped": "■",
}
NODE_EVENTS = {
    names.NODE_COMPLETED: "completed",
    names.NODE_FAILED: "failed",
    names.NODE_SKIPPED: "skipped",
    names.NODE_INTERRUPTED: "waiting",
}
RUN_EVENTS = {
    names.RUN_QUEUED: "queued",
    names.RUN_STARTED: "running",
    names.RUN_INTERRUPTED: "interrupted",
    names.RUN_SUCCEEDED: "succeeded",
    names.RUN_FAILED: "failed",
    names.RUN_CANCELLED: "cancelled",
    names.RUN_PAUSED: "paused",
}
# The run stopped executing here without ending: the driver stops following it.
STOPPED_EVENTS = frozenset({names.RUN_INTERRUPTED, names.RUN_PAUSED})


def make_console(*, stderr: bool = False) -> Console:
    # Soft wrap: a long line (an error, a JSON value) stays one line when piped.
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


@dataclass(slots=True)
class NodeRow:
    node_id: str
    type: str
    status: str = "pending"
    detail: str = ""
    iteration: int = 0
    starts: int = 0  # node.started seen (live-only, may arrive after the node's end)
    ends: int = 0  # completions, failures and questions of executions that started


@dataclass
class NodeBoard:
    """The status of every node of one run, updated from its events."""

    console: Console
    run_id: str
    flow_label: str
    rows: dict[str, NodeRow]
    run_status: str = "queued"
    _live: Live | None = field(default=None, repr=False)

    @classmethod
    def for_flow(
        cls, console: Console, run_id: str, flow_label: str, definition: dict[str, Any]
    ) -> NodeBoard:
        rows = {
            node["id"]: NodeRow(node["id"], str(node.get("type", "")))
            for node in definition.get("nodes", [])
        }
        return cls(console, run_id, flow_label, rows)

    @property
    def plain(self) -> bool:
        return not self.console.is_terminal

    def apply(self, event: Event) -> None:
        """Take one event of the run into account and show what changed."""
        if event.type in RUN_EVENTS:
            self.run_status = RUN_EVENTS[event.type]
            self._refresh()
            return
        node_id = event.data.get("node_id")
        row = self.rows.get(node_id) if isinstance(node_id, str) else None
        if row is None:
            return
        if event.type == names.NODE_STARTED:
            # The bus hands over the log before live-only events, so a node's start can
            # arrive after its end: a start that is not newer than the last end is stale.
            row.starts += 1
            if row.starts > row.ends:
                self._set(row, "running", "")
            return
        status = NODE_EVENTS.get(event.type)
        if status is None:
            return
        if event.type != names.NODE_SKIPPED and not event.data.get("cached"):
            row.ends += 1
        detail = ""
        if status == "failed":
            detail = one_line(str(event.data.get("error", "")))
        elif status == "waiting":
            detail = one_line(str(event.data.get("question", "")))
        elif event.data.get("cached"):
            detail = "cached output"
        self._set(row, status, detail, int(event.data.get("iteration", 0)))

    def caught_up(self) -> None:
        """Starts before now were not seen (they are live-only); count them as seen."""
        for row in self.rows.values():
            row.starts = max(row.starts, row.ends)

    def stop_running(self) -> None:
        """Nodes still running when the run ended were stopped with it."""
        for row in self.rows.values():
            if row.status == "running":
                self._set(row, "stopped", "stopped when the run ended")

    def _set(self, row: NodeRow, status: str, detail: str, iteration: int | None = None) -> None:
        if iteration is None:
            iteration = row.iteration
        if (row.status, row.detail, row.iteration) == (status, detail, iteration):
            return
        row.status, row.detail, row.iteration = status, detail, iteration
        if self._live is not None:
            self._refresh()
        else:
            shown = iteration and status != "running"
            where = f" (iteration {iteration})" if shown else ""
            suffix = f": {detail}" if detail else ""
            self.console.print(f"node {row.node_id}: {status}{where}{suffix}", markup=False)

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self.table())

    def table(self) -> Table:
        title = f"{escape(self.flow_label)} · run {self.run_id} · {self.run_status}"
        table = Table(title=title, title_justify="left", expand=False)
        table.add_column("node", no_wrap=True)
        table.add_column("type", style="dim")
        table.add_column("status", no_wrap=True)
        table.add_column("iteration", justify="right")
        table.add_column("detail", overflow="fold")
        for row in self.rows.values():
            style = STATUS_STYLES.get(row.status, "")
            mark = STATUS_MARKS.get(row.status, " ")
            table.add_row(
                escape(row.node_id),
                row.type,
                f"[{style}]{mark} {row.status}[/]" if style else f"{mark} {row.status}",
                str(row.iteration) if row.iteration else "",
                escape(row.detail),
            )
        return table

    @contextlib.contextmanager
    def showing(self) -> Iterator[None]:
        """While inside, a live table on a terminal (plain lines otherwise)."""
        if self.plain:
            yield
            return
        with Live(self.table(), console=self.console, refresh_per_second=8) as live:
            self._live = live
            try:
                yield
            finally:
                live.update(self.table())
                self._live = None


# --- following a run to its end ---------------------------------------------------------


def resume_hint(run_id: str, db: str | None) -> str:
    option = f" --db {shlex.quote(db)}" if db else ""
    return f"podium runs resume {run_id}{option}"


class DatabaseUnavailable(PodiumError):
    code = "database_unavailable"


async def open_database(
    url: str, settings: Settings, *, migrate: bool, remote_channels: frozenset[str] | None = None
) -> Store:
    """The store at `url`, migrated (with the installed packs' tables); a server that does
    not answer is one clear error. `remote_channels`: see `Store.remote_channels`."""
    store = open_store(url, settings)
    store.migrations = default_registry(settings).migrations
    store.remote_channels = remote_channels
    try:
        await store.open(migrate=migrate)
    except OSError as exc:  # refused, unknown host, timed out
        raise DatabaseUnavailable(f"database {display_url(url)}: {exc}") from None
    return store


def display_url(url: str) -> str:
    """The URL without its password."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if at and ":" in credentials:
        return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"
    return url


@contextlib.asynccontextmanager
async def idle_podium(
    url: str, settings: Settings, workers: int | None, migrate: bool
) -> AsyncIterator[Podium]:
    """`Podium.open` with `workers` slots that the caller starts with `podium.worker.run()`."""
    store = await open_database(url, settings, migrate=migrate)
    podium = Podium(store, settings, workers=workers, registry=default_registry(settings))
    try:
        yield podium
    finally:
        podium.bus.close()
        await store.close()


@dataclass
class Outcome:
    run: RunRecord
    questions: list[InterruptRecord] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunDriver:
    """Processes one run with in-process workers, showing its nodes live, until it ends.

    Questions are asked with no event loop running, so that Ctrl-C at a prompt stops at
    once; each stretch of work between questions opens the database again.
    """

    url: str
    settings: Settings
    workers: int | None
    db: str | None
    out: Console
    err: Console
    run_id: str = ""
    board: NodeBoard | None = None
    since: int = 0

    def drive(self, start: Callable[[Podium], Awaitable[str]] | None = None) -> int:
        answers: list[tuple[str, Any]] = []
        migrate = True
        while True:
            try:
                outcome = asyncio.run(self._work(start, answers, migrate))
                start, answers, migrate = None, [], False
                if outcome.run.status == "paused":
                    if self.board is not None:
                        self.board.stop_running()
                    self.err.print(
                        f"run {self.run_id} is paused; resume it with: "
                        f"{resume_hint(self.run_id, self.db)}",
                        markup=False,
                    )
                    return EXIT_WAITING
                if outcome.run.status != "interrupted":
                    return self._finish(outcome.run, outcome.state)
                for question in outcome.questions:
                    answers.append((question.id, ask_question(question, self.out)))
            except NoAnswer:
                self.err.print(
                    f"run {self.run_id} is waiting for an answer; answer it later with: "
                    f"{resume_hint(self.run_id, self.db)}",
                    markup=False,
                )
                return EXIT_WAITING
            except KeyboardInterrupt:
                if not self.run_id:
                    raise
                self.err.print(
                    f"interrupted; run {self.run_id} is saved and goes on with: "
                    f"{resume_hint(self.run_id, self.db)}",
                    markup=False,
                )
                return EXIT_INTERRUPTED

    async def _work(
        self,
        start: Callable[[Podium], Awaitable[str]] | None,
        answers: list[tuple[str, Any]],
        migrate: bool,
    ) -> Outcome:
        async with idle_podium(self.url, self.settings, self.workers, migrate) as podium:
            if start is not None:
                self.run_id = await start(podium)
            for interrupt_id, answer in answers:
                try:
                    await podium.answer(interrupt_id, answer)
                except Conflict as exc:  # answered or cancelled meanwhile, elsewhere
                    self.err.print(one_line(exc.message), markup=False)
            run = await podium.store.get_run(self.run_id)
            if self.board is None:
                flow = await podium.store.get_flow(run.flow_id)
                label = f"flow {flow.name!r} v{flow.version}"
                self.out.print(f"run {run.id}: {label}, session {run.session_id}", markup=False)
                self.board = NodeBoard.for_flow(self.out, run.id, label, flow.definition)
            return await self._follow(podium, run, self.board)

    async def _follow(self, podium: Podium, run: RunRecord, board: NodeBoard) -> Outcome:
        while True:  # catch up with what happened before (on resume: the whole history)
            batch = await podium.store.read_events(
                run.app_id, after=self.since, limit=PAGE, run_id=run.id
            )
            for event in batch:
                self._take(board, event)
            if len(batch) < PAGE:
                break
        board.caught_up()
        outcome = await self._outcome(podium, run.id)
        if outcome is not None:
            return outcome
        events = podium.subscribe(run.app_id, self.since, run_id=run.id)
        # The subscriber registers when the stream is first read; read before the workers
        # start, so that no live-only node.started is missed.
        upcoming: asyncio.Future[Event] = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0)
        workers = asyncio.create_task(podium.worker.run())
        try:
            with board.showing():
                while True:
                    either: set[asyncio.Future[Any]] = {upcoming, workers}
                    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                    if workers.done():  # they stopped on an error: say so rather than hang
                        workers.result()
                        raise RuntimeError("the in-process workers stopped")
                    event = upcoming.result()
                    self._take(board, event)
                    if event.type in ENDED_EVENTS or event.type in STOPPED_EVENTS:
                        outcome = await self._outcome(podium, run.id)
                        if outcome is not None:
                            return outcome
                    upcoming = asyncio.ensure_future(anext(events))
        finally:
            for task in (upcoming, workers):
                task.cancel()
            await asyncio.gather(upcoming, workers, return_exceptions=True)
            await events.aclose()

    def _take(self, board: NodeBoard, event: Event) -> None:
        board.apply(event)
        if event.seq is not None:
            self.since = event.seq

    @staticmethod
    async def _outcome(podium: Podium, run_id: str) -> Outcome | None:
        """The outcome when the run ended, waits for an answer or is paused; None while it
        goes on."""
        run = await podium.store.get_run(run_id)
        if run.status == "paused":
            return Outcome(run)
        if run.status in ENDED_RUN_STATUSES:
            return Outcome(run, state=(await podium.store.get_session(run.session_id)).state)
        if run.status == "interrupted":
            questions = await podium.pending_questions(run_id)
            if questions:
                return Outcome(run, questions)
        return None

    def _finish(self, run: RunRecord, state: dict[str, Any]) -> int:
        if self.board is not None:
            self.board.stop_running()
        print_result(self.out, run, state)
        if run.status == "succeeded":
            return 0
        if run.status == "cancelled":
            self.err.print(f"error: run {run.id} was cancelled", markup=False)
        else:
            took = run_took(run)
            error = one_line(run.error or "")
            self.err.print(f"error: run {run.id} failed {took}: {error}", markup=False)
        return EXIT_FAILED


# --- questions ------------------------------------------------------------------------


class NoAnswer(Exception):
    """Standard input ended before an answer was given."""


def ask_question(question: InterruptRecord, console: Console) -> Any:
    """Ask `question` at the terminal (or read a line from a pipe) and return the answer.

    Raises:
        NoAnswer: standard input ended first (Ctrl-D, or a pipe with no more lines).
    """
    stdin = sys.stdin
    interactive = stdin.isatty()
    console.print(f"[bold]?[/] {escape(question.question)}  [dim]({escape(question.node_id)})[/]")
    if question.choices:
        for number, choice in enumerate(question.choices, 1):
            console.print(f"  {number}) {choice}", markup=False)
    if question.schema:
        console.print(f"  answer as JSON: {json.dumps(question.schema)}", markup=False)
    while True:
        if interactive:
            try:
                line = console.input("[bold]> [/]")
            except EOFError:
                raise NoAnswer() from None
        else:
            raw = stdin.readline()
            if not raw:
                raise NoAnswer()
            line = raw.rstrip("\r\n")
        answer, problem = interpret_answer(question, line)
        if problem is None:
            if not interactive:
                console.print(f"> {line}", markup=False)
            return answer
        console.print(problem, markup=False)


def interpret_answer(question: InterruptRecord, line: str) -> tuple[Any, str | None]:
    """The answer a typed line means, or a reason to ask again."""
    text = line.strip()
    if not text:
        return None, "an answer is needed (end the input, e.g. Ctrl-D, to leave the run waiting)"
    if question.choices:
        if text.isdigit() and 1 <= int(text) <= len(question.choices):
            return question.choices[int(text) - 1], None
        for choice in question.choices:
            if text.casefold() == choice.casefold():
                return choice, None
        listed = ", ".join(f"{n}) {c}" for n, c in enumerate(question.choices, 1))
        return None, f"answer with one of: {listed}"
    if question.schema and question.schema.get("type") != "string":
        try:
            return json.loads(text), None
        except json.JSONDecodeError:
            return text, None
    return line, None


# --- runs ------------------------------------------------------------------------------


def run_took(run: RunRecord) -> str:
    return f"in {format_seconds(run.elapsed)} ({plural(run.steps_count, 'step')})"


def print_result(console: Console, run: RunRecord, state: dict[str, Any]) -> None:
    """The end of `podium run`: the outcome, the session's state and the run's output."""
    if run.status == "succeeded":
        console.print(f"run {run.id} succeeded {run_took(run)}", markup=False)
    console.print("state:")
    print_json(console, state)
    if run.output:
        console.print("output:")
        print_json(console, run.output)


def print_run(
    console: Console,
    run: RunRecord,
    flow_label: str,
    steps: list[StepRecord],
    questions: list[InterruptRecord],
    session: SessionRecord,
) -> None:
    """`podium runs show`: the run's fields, its steps, its pending questions, the state."""
    fields = [
        ("run", run.id),
        ("flow", flow_label),
        ("session", f"{session.id} ({session.status})"),
        ("status", run.status),
        ("created", format_time(run.created_at)),
        ("started", format_time(run.started_at)),
        ("ended", format_time(run.ended_at)),
        ("steps", str(run.steps_count)),
        ("elapsed", format_seconds(run.elapsed)),
        ("input", json.dumps(run.input or {}, ensure_ascii=False)),
    ]
    if run.output:
        fields.append(("output", json.dumps(run.output, ensure_ascii=False)))
    if run.status == "running" and run.lease_until is not None:
        fields.append(("worker", f"{run.worker_id} (lease until {format_time(run.lease_until)})"))
    if run.error:
        fields.append(("error", one_line(run.error)))
    for name, value in fields:
        console.print(f"{name:<9}{value}", markup=False)
    console.print()
    rows = [
        [
            step.node_id,
            str(step.iteration),
            str(step.attempt),
            step.status,
            format_seconds(max(step.ended_at - step.started_at, 0)),
            one_line(step.error or ""),
        ]
        for step in steps
    ]
    if rows:
        print_table(console, ["node", "iteration", "attempt", "status", "took", "error"], rows)
    else:
        console.print("no steps yet")
    console.print()
    console.print("state:")
    print_json(console, session.state)
    for question in questions:
        console.print()
        console.print(
            f"waiting for an answer ({question.id}, node {question.node_id}):", markup=False
        )
        console.print(f"  {question.question}", markup=False)
        if question.choices:
            console.print(f"  choices: {', '.join(question.choices)}", markup=False)


# --- tables, values, times --------------------------------------------------------------


def print_table(
    console: Console, headers: Sequence[str], rows: Sequence[Sequence[str]], title: str = ""
) -> None:
    """A rich table on a terminal; aligned plain columns otherwise (easy to grep and cut)."""
    if console.is_terminal:
        table = Table(title=title or None, title_justify="left")
        for header in headers:
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))
        console.print(table)
        return
    if title:
        console.print(title, markup=False)
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for cells in [headers, *rows]:
        line = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        console.print(line.rstrip(), markup=False)


def print_json(console: Console, value: Any) -> None:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    if console.is_terminal:
        console.print_json(text, sort_keys=True)
    else:
        console.print(text, markup=False)


def one_line(text: str) -> str:
    """Messages may hold newlines (a YAML error, a traceback's text); show one line."""
    return " ".join(text.split())


def format_time(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def format_seconds(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
