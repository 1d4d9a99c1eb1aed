"""The `podium` command: run flows live, inspect and resume runs, work the queue, check flows.

Exit codes: 0 done, 1 an error or a failed run, 2 bad command-line input, 3 the run waits for
an answer nobody gave, 130 interrupted (Ctrl-C; the run is saved and can be resumed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import pydantic
import sqlalchemy.exc

from podium import __version__
from podium.cli_display import (
    NoAnswer,
    NodeBoard,
    ask_question,
    format_time,
    make_console,
    one_line,
    plural,
    print_result,
    print_run,
    print_table,
    run_took,
)
from podium.config import Settings, get_settings
from podium.engine.flow import Flow
from podium.engine.loader import read_flow_file
from podium.engine.runtime import Podium
from podium.errors import Conflict, FlowInvalid, InvalidInput, NotFound, PodiumError
from podium.events import names
from podium.events.envelope import Event
from podium.storage.records import ENDED_RUN_STATUSES, InterruptRecord, RunRecord
from podium.storage.store import open_store
from podium.storage.urls import dialect, sqlite_path, sqlite_url

FLOW_SUFFIXES = (".json", ".yaml", ".yml")
ENDED_EVENTS = frozenset({names.RUN_SUCCEEDED, names.RUN_FAILED, names.RUN_CANCELLED})
RUN_OUTCOMES = {
    names.RUN_SUCCEEDED: "succeeded",
    names.RUN_FAILED: "failed",
    names.RUN_CANCELLED: "cancelled",
    names.RUN_INTERRUPTED: "waiting for an answer",
}
EXIT_FAILED, EXIT_USAGE, EXIT_WAITING, EXIT_INTERRUPTED = 1, 2, 3, 130
T = TypeVar("T")

out = make_console()
err = make_console(stderr=True)


class CommandError(Exception):
    """A problem with what the user typed: one line on stderr and `exit_code`."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fail(message: str, exit_code: int = EXIT_FAILED) -> NoReturn:
    click.echo(f"error: {one_line(message)}", err=True)
    raise click.exceptions.Exit(exit_code)


class PodiumGroup(click.Group):
    """Turns every expected error into one `error: …` line and an exit code, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CommandError as exc:
            fail(str(exc), exc.exit_code)
        except PodiumError as exc:
            fail(exc.message)
        except (sqlite3.Error, sqlalchemy.exc.SQLAlchemyError, OSError) as exc:
            # A path that is not a database, a server that does not answer: say which.
            detail = getattr(exc, "orig", None) or exc
            fail(f"database {display_url(ctx.meta.get('podium.url', '?'))}: {detail}")
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None


@click.group(cls=PodiumGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="podium")
def main() -> None:
    """Podium runs AI agents and flows durably."""


def db_option(command: Callable[..., T]) -> Callable[..., T]:
    return click.option(
        "--db",
        metavar="PATH",
        help="SQLite database file (or a database URL); default: PODIUM_DATABASE_URL, "
        "else ./podium.db.",
    )(command)


def load_settings() -> Settings:
    try:
        return get_settings()
    except pydantic.ValidationError as exc:
        problem = exc.errors()[0]
        name = "PODIUM_" + ".".join(str(part) for part in problem["loc"]).upper()
        raise InvalidInput(f"setting {name}: {problem['msg']}") from None


def database_url(db: str | None, settings: Settings) -> str:
    """The URL from `--db` (a file path or a URL), else from the settings; checked."""
    url = settings.database_url if db is None else db if "://" in db else sqlite_url(Path(db))
    dialect(url)  # refuses an unsupported URL with what to write instead
    click.get_current_context().meta["podium.url"] = url
    return url


def display_url(url: str) -> str:
    """The URL without its password."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if at and ":" in credentials:
        return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"
    return url


def resume_hint(run_id: str, db: str | None) -> str:
    option = f" --db {shlex.quote(db)}" if db else ""
    return f"podium runs resume {run_id}{option}"


def with_podium(url: str, settings: Settings, use: Callable[[Podium], Awaitable[T]]) -> T:
    """Open the (migrated) database without workers, call `use`, and close it."""

    async def session() -> T:
        async with Podium.open(url, workers=0, settings=settings) as podium:
            return await use(podium)

    return asyncio.run(session())


@contextlib.asynccontextmanager
async def idle_podium(
    url: str, settings: Settings, workers: int | None, migrate: bool
) -> AsyncIterator[Podium]:
    """`Podium.open` with `workers` slots that the caller starts with `podium.worker.run()`."""
    store = open_store(url, settings)
    await store.open(migrate=migrate)
    podium = Podium(store, settings, workers=workers)
    try:
        yield podium
    finally:
        podium.bus.close()
        await store.close()


# --- podium run / runs resume: follow a run to its end ------------------------------------


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
                if outcome.run.status != "interrupted":
                    return self._finish(outcome.run, outcome.state)
                for question in outcome.questions:
                    answers.append((question.id, ask_question(question, out)))
            except NoAnswer:
                err.print(
                    f"run {self.run_id} is waiting for an answer; answer it later with: "
                    f"{resume_hint(self.run_id, self.db)}",
                    markup=False,
                )
                return EXIT_WAITING
            except KeyboardInterrupt:
                if not self.run_id:
                    raise
                err.print(
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
                await podium.answer(interrupt_id, answer)
            run = await podium.store.get_run(self.run_id)
            if self.board is None:
                flow = await podium.store.get_flow(run.flow_id)
                label = f"flow {flow.name!r} v{flow.version}"
                out.print(f"run {run.id}: {label}, session {run.session_id}", markup=False)
                self.board = NodeBoard.for_flow(out, run.id, label, flow.definition)
            return await self._follow(podium, run, self.board)

    async def _follow(self, podium: Podium, run: RunRecord, board: NodeBoard) -> Outcome:
        while True:  # catch up with what happened before (on resume: the whole history)
            batch = await podium.store.read_events(run.app_id, after=self.since, run_id=run.id)
            for event in batch:
                self._take(board, event)
            if len(batch) < 500:
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
                    if event.type in ENDED_EVENTS or event.type == names.RUN_INTERRUPTED:
                        outcome = await self._outcome(podium, run.id)
                        if outcome is not None:
                            return outcome
                    upcoming = asyncio.ensure_future(anext(events))
        finally:
            for task in (upcoming, workers):
                task.cancel()
            await asyncio.gather(upcoming, workers, return_exceptions=True)
            await events.aclose()  # type: ignore[attr-defined]

    def _take(self, board: NodeBoard, event: Event) -> None:
        board.apply(event)
        if event.seq is not None:
            self.since = event.seq

    @staticmethod
    async def _outcome(podium: Podium, run_id: str) -> Outcome | None:
        """The outcome when the run ended or waits for an answer; None while it goes on."""
        run = await podium.store.get_run(run_id)
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
        print_result(out, run, state)
        if run.status == "succeeded":
            return 0
        if run.status == "cancelled":
            click.echo(f"error: run {run.id} was cancelled", err=True)
        else:
            took = run_took(run)
            click.echo(f"error: run {run.id} failed {took}: {one_line(run.error or '')}", err=True)
        return EXIT_FAILED


def parse_input(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"--input is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            """write a JSON object, e.g. --input '{"name": "Ada"}'""",
            EXIT_USAGE,
        ) from None
    if not isinstance(value, dict):
        raise CommandError(
            f"--input must be a JSON object, not {type(value).__name__}; "
            """e.g. --input '{"name": "Ada"}'""",
            EXIT_USAGE,
        )
    return value


def flow_file(flow: str) -> Path | None:
    """FLOW as a file when it looks like one; None for a registered flow's name."""
    path = Path(flow)
    if path.suffix.lower() in FLOW_SUFFIXES or "/" in flow or path.exists():
        return path
    return None


@main.command("run")
@click.argument("flow")
@click.option(
    "--input", "input_text", metavar="JSON", default="{}", help="The run's input, a JSON object."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="In-process worker slots (default: PODIUM_WORKERS).",
)
@db_option
def run_command(flow: str, input_text: str, workers: int | None, db: str | None) -> None:
    """Run FLOW (a .json/.yaml/.yml file or a registered flow's name) to its end, live.

    Questions the flow asks are asked here; without a terminal, answers are read from
    standard input, one line each.
    """
    run_input = parse_input(input_text)
    settings = load_settings()
    path = flow_file(flow)
    loaded = None
    if path is not None:  # read before touching the database: a bad file changes nothing
        loaded, problems = load_flow_file(path)
        if loaded is None:
            more = f" (and {len(problems) - 1} more: podium flows validate {flow})"
            raise CommandError(f"{flow}: {problems[0]}{more if len(problems) > 1 else ''}")
    url = database_url(db, settings)
    if loaded is None and dialect(url) == "sqlite" and not sqlite_path(url).exists():
        raise NotFound(f"no flow named {flow!r} is registered; register it or give a file")

    async def start(podium: Podium) -> str:
        name = flow
        if loaded is not None and path is not None:
            record = await podium.register_flow(loaded, base_path=path.resolve().parent)
            name = record.name
        return (await podium.start(name, run_input)).run_id

    driver = RunDriver(url, settings, workers, db)
    raise click.exceptions.Exit(driver.drive(start))


# --- podium runs ----------------------------------------------------------------------------


@main.group()
def runs() -> None:
    """List, show, resume and cancel runs."""


@runs.command("list")
@click.option(
    "--status",
    type=click.Choice(["queued", "running", "interrupted", "succeeded", "failed", "cancelled"]),
    help="Only runs with this status.",
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@db_option
def runs_list(status: str | None, limit: int, db: str | None) -> None:
    """The newest runs first."""
    settings = load_settings()

    async def rows(podium: Podium) -> list[list[str]]:
        flows: dict[str, str] = {}
        table = []
        for run in await podium.store.list_runs(status=status, limit=limit):
            if run.flow_id not in flows:
                flow = await podium.store.get_flow(run.flow_id)
                flows[run.flow_id] = f"{flow.name} v{flow.version}"
            table.append(
                [
                    run.id,
                    flows[run.flow_id],
                    run.session_id,
                    run.status,
                    format_time(run.created_at),
                    str(run.steps_count),
                ]
            )
        return table

    table = with_podium(database_url(db, settings), settings, rows)
    if not table:
        out.print("no runs" + (f" with status {status}" if status else ""))
        return
    print_table(out, ["id", "flow", "session", "status", "created", "steps"], table)


@runs.command("show")
@click.argument("run_id", metavar="RUN")
@db_option
def runs_show(run_id: str, db: str | None) -> None:
    """A run: its fields, its steps, the question it waits on, its error."""
    settings = load_settings()

    async def gather(podium: Podium) -> tuple[Any, ...]:
        run = await podium.store.get_run(run_id)
        return (
            run,
            await podium.store.get_flow(run.flow_id),
            await podium.store.get_steps(run_id),
            await podium.pending_questions(run_id),
            await podium.store.get_session(run.session_id),
        )

    run, flow, steps, questions, session = with_podium(database_url(db, settings), settings, gather)
    print_run(out, run, f"{flow.name} v{flow.version}", steps, questions, session)
    if questions:
        out.print(f"answer it with: {resume_hint(run.id, db)}", markup=False)


@runs.command("resume")
@click.argument("run_id", metavar="RUN")
@click.option("--workers", type=click.IntRange(min=1), help="In-process worker slots.")
@db_option
def runs_resume(run_id: str, workers: int | None, db: str | None) -> None:
    """Answer RUN's questions here (if it waits) and process it to its end."""
    settings = load_settings()
    url = database_url(db, settings)
    run = with_podium(url, settings, lambda podium: podium.store.get_run(run_id))
    if run.status in ENDED_RUN_STATUSES:
        raise Conflict(f"run {run_id} already ended ({run.status}); there is nothing to resume")
    if run.status == "running" and (run.lease_until or 0) > time.time():
        err.print(
            f"run {run_id} is held by worker {run.worker_id} until "
            f"{format_time(run.lease_until)}; following it (it is taken over if that "
            "worker stopped)",
            markup=False,
        )
    driver = RunDriver(url, settings, workers, db, run_id=run_id)
    raise click.exceptions.Exit(driver.drive())


@runs.command("cancel")
@click.argument("run_id", metavar="RUN")
@db_option
def runs_cancel(run_id: str, db: str | None) -> None:
    """Cancel a queued, running or waiting run."""
    settings = load_settings()
    with_podium(database_url(db, settings), settings, lambda podium: podium.cancel(run_id))
    out.print(f"cancelled run {run_id}", markup=False)


# --- podium worker ----------------------------------------------------------------------------


@main.command()
@click.option("--until-idle", is_flag=True, help="Exit once no queued or abandoned run is left.")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    help="Runs processed at once (default: PODIUM_WORKERS).",
)
@db_option
def worker(until_idle: bool, concurrency: int | None, db: str | None) -> None:
    """Process queued runs, and runs whose worker stopped (their lease expired)."""
    from podium.engine.worker import Worker

    settings = load_settings()
    url = database_url(db, settings)
    ended: dict[str, int] = {}

    def count(events: list[Event]) -> None:
        for event in events:
            if event.type in ENDED_EVENTS or event.type == names.RUN_INTERRUPTED:
                status = RUN_OUTCOMES[event.type]
                ended[status] = ended.get(status, 0) + 1

    async def work() -> None:
        store = open_store(url, settings)
        await store.open(migrate=True)
        try:
            store.add_listener(count)
            slots = Worker(store, settings, concurrency=concurrency)
            err.print(
                f"worker {slots.worker_id}: processing runs in {display_url(url)} "
                f"({plural(slots.concurrency, 'slot')})",
                markup=False,
            )
            await slots.run(until_idle=until_idle)
        finally:
            await store.close()

    try:
        asyncio.run(work())
    finally:
        total = sum(ended.values())
        summary = ", ".join(f"{n} {status}" for status, n in sorted(ended.items()))
        out.print(
            f"worker: processed {plural(total, 'run')}" + (f" ({summary})" if summary else ""),
            markup=False,
        )


# --- podium flows, podium db --------------------------------------------------------------------


@main.group()
def flows() -> None:
    """Check flow files."""


@flows.command("validate")
@click.argument("files", metavar="FILE...", nargs=-1, required=True)
def flows_validate(files: tuple[str, ...]) -> None:
    """Check flow files: every problem on its own line, prefixed with the file's name."""
    problems = 0
    for name in files:
        lines = check_flow_file(name)
        problems += not lines[0].startswith("ok: ")
        for line in lines:
            out.print(f"{name}: {line}", markup=False)
    if problems:
        raise click.exceptions.Exit(EXIT_FAILED)


def check_flow_file(name: str) -> list[str]:
    """`ok: …` for a good flow file, else what is wrong with it, one line per problem."""
    flow, problems = load_flow_file(Path(name))
    if flow is None:
        return problems
    edges = plural(len(flow.edges), "edge")
    return [f"ok: flow {flow.name!r} ({plural(len(flow.nodes), 'node')}, {edges})"]


def load_flow_file(path: Path) -> tuple[Flow | None, list[str]]:
    """The flow in `path`, or None and its problems (one line each, without the file name)."""
    try:
        return read_flow_file(path)[0], []
    except FlowInvalid as exc:
        return None, [one_line(problem) for problem in exc.problems]
    except InvalidInput as exc:
        message = one_line(exc.message)
        for prefix in (f"{path}: ", f"{path.name}: "):  # the caller names the file already
            message = message.removeprefix(prefix)
        return None, [message]


@main.group("db")
def database() -> None:
    """Manage the database."""


@database.command("upgrade")
@db_option
def db_upgrade(db: str | None) -> None:
    """Bring the database to the newest schema (commands do this on their own, too)."""
    from podium.storage.migrate import head_revision, upgrade

    url = database_url(db, load_settings())
    if dialect(url) == "sqlite":
        sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    out.print(f"database {display_url(url)} is at revision {head_revision()}", markup=False)
