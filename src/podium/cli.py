"""The `podium` command: run flows live, inspect and resume runs, work the queue, check flows.

Exit codes: 0 done, 1 an error or a failed run, 2 bad command-line input, 3 the run waits for
an answer nobody gave, 130 interrupted (Ctrl-C; the run is saved and can be resumed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import click
import pydantic

from podium import cli_remote
from podium.assembly import Podium, default_registry, read_flow_file
from podium.cli_display import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    RunDriver,
    display_url,
    format_time,
    idle_podium,
    make_console,
    one_line,
    open_database,
    plural,
    print_json,
    print_run,
    print_table,
    resume_hint,
)
from podium.config import Settings, get_settings
from podium.engine.flow import Flow
from podium.errors import Conflict, FlowInvalid, InvalidInput, NotFound, PodiumError
from podium.events import names
from podium.events.envelope import Event
from podium.storage.records import ENDED_RUN_STATUSES, RUN_STATUSES
from podium.storage.urls import dialect, sqlite_path, sqlite_url
from podium.version import __version__

FLOW_SUFFIXES = (".json", ".yaml", ".yml")
SQLITE_HEADER = b"SQLite format 3\x00"
RUN_OUTCOMES = {
    names.RUN_SUCCEEDED: "succeeded",
    names.RUN_FAILED: "failed",
    names.RUN_CANCELLED: "cancelled",
    names.RUN_INTERRUPTED: "waiting for an answer",
    names.RUN_PAUSED: "paused",
}
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


def _database_errors() -> tuple[type[BaseException], ...]:
    """sqlite3's errors, and SQLAlchemy's once something has loaded it (the migrations do):
    importing it only to name its error would cost every command ~0.1 s."""
    loaded = sys.modules.get("sqlalchemy.exc")
    return (sqlite3.Error,) if loaded is None else (sqlite3.Error, loaded.SQLAlchemyError)


class PodiumGroup(click.Group):
    """Turns every expected error into one `error: …` line and an exit code, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CommandError as exc:
            fail(str(exc), exc.exit_code)
        except PodiumError as exc:
            fail(exc.message)
        except _database_errors() as exc:
            detail = getattr(exc, "orig", None) or exc  # the driver's words, not the wrapper's
            fail(f"database {display_url(ctx.meta.get('podium.url', '?'))}: {detail}")
        except BrokenPipeError:
            # Whoever read the output stopped (`podium runs list | head -1`): stop quietly,
            # and keep Python from complaining when it flushes stdout on the way out.
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise click.exceptions.Exit(EXIT_FAILED) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None


@click.group(cls=PodiumGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="podium")
@click.option(
    "--server",
    envvar="PODIUM_SERVER",
    metavar="URL",
    help="A running server for the server commands (login, apps, sessions, events, chat, "
    "artifacts, flows push/list); default: PODIUM_SERVER, else the last login's.",
)
@click.pass_context
def main(context: click.Context, server: str | None) -> None:
    """Podium runs AI agents and flows durably."""
    context.meta["podium.server"] = server


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
    if dialect(url) == "sqlite":  # refuses an unsupported URL with what to write instead
        check_sqlite_file(sqlite_path(url))
    click.get_current_context().meta["podium.url"] = url
    return url


def check_sqlite_file(path: Path) -> None:
    """Refuse a path that is there but is not a SQLite database, before migrating it."""
    if path.is_dir():
        raise InvalidInput(
            f"{path} is a directory; give a database file, e.g. --db {path}/podium.db"
        )
    if path.is_file() and path.stat().st_size > 0:
        with path.open("rb") as file:
            if file.read(16) != SQLITE_HEADER:
                raise InvalidInput(f"{path} is not a SQLite database; give another --db file")


def with_podium(url: str, settings: Settings, use: Callable[[Podium], Awaitable[T]]) -> T:
    """Open the (migrated) database without workers, call `use`, and close it."""

    async def session() -> T:
        async with idle_podium(url, settings, workers=0, migrate=True) as podium:
            return await use(podium)

    return asyncio.run(session())


# --- podium run ----------------------------------------------------------------------------


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
    """Run a flow to its end, showing its nodes live.

    FLOW is a .json, .yaml or .yml file, or the name of a flow registered before. The
    flow's questions are asked here; without a terminal, each answer is one line of
    standard input, and when the input ends the run waits (resume it with `podium runs
    resume`). Prints the final state; exits 1 when the run failed.
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

    driver = RunDriver(url, settings, workers, db, out, err)
    raise click.exceptions.Exit(driver.drive(start))


# --- podium runs ----------------------------------------------------------------------------


@main.group()
def runs() -> None:
    """List, show, resume and cancel runs."""


@runs.command("list")
@click.option(
    "--status",
    type=click.Choice(RUN_STATUSES),
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
    """Answer a run's questions and process it to its end.

    A run waiting for an answer asks its questions here; a queued run, or one whose
    worker stopped (its lease expired), is processed by workers in this process. A paused
    run is resumed first.
    """
    settings = load_settings()
    url = database_url(db, settings)
    run = with_podium(url, settings, lambda podium: podium.store.get_run(run_id))
    if run.status in ENDED_RUN_STATUSES:
        raise Conflict(f"run {run_id} already ended ({run.status}); there is nothing to resume")
    if run.status in ("paused", "pausing"):
        status = with_podium(url, settings, lambda podium: podium.resume(run_id))
        err.print(f"resumed run {run_id}: it is {status}", markup=False)
    if run.status == "running" and (run.lease_until or 0) > time.time():
        err.print(
            f"run {run_id} is held by worker {run.worker_id} until "
            f"{format_time(run.lease_until)}; following it (it is taken over if that "
            "worker stopped)",
            markup=False,
        )
    driver = RunDriver(url, settings, workers, db, out, err, run_id=run_id)
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


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (as `podium serve` runs under uvicorn's
    `loop="auto"`), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


@main.command()
@click.option("--until-idle", is_flag=True, help="Exit once no queued or abandoned run is left.")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    help="Runs processed at once (default: PODIUM_WORKERS).",
)
@db_option
def worker(until_idle: bool, concurrency: int | None, db: str | None) -> None:
    """Process queued runs, and runs whose worker died; run the packs' event handlers.

    A run is taken over when the lease of its worker expired. Stops with Ctrl-C, or with
    --until-idle once nothing is left to do (the handlers having caught up with the log).
    """
    from podium import tracing
    from podium.logs import configure_logging
    from podium.packs.handlers import HandlerRunner
    from podium.packs.service import PackServices

    settings = load_settings()
    restore_logging = configure_logging(settings)  # PODIUM_LOG_FORMAT, PODIUM_LOG_LEVEL
    tracing.configure(settings)  # here, so that a missing `otel` extra is one line
    url = database_url(db, settings)
    ended: dict[str, int] = {}
    opened = False

    def count(events: list[Event]) -> None:
        for event in events:
            if event.type in RUN_OUTCOMES:
                status = RUN_OUTCOMES[event.type]
                ended[status] = ended.get(status, 0) + 1

    async def work() -> None:
        nonlocal opened
        # Worker slots wake on queued runs only: no client or `/wait` is served here.
        store = await open_database(
            url, settings, migrate=True, remote_channels=frozenset({"runs"})
        )
        opened = True
        try:
            store.add_listener(count)
            # A runtime for its services (agents, artifacts) and its worker slots.
            runtime = Podium(
                store, settings, workers=concurrency, registry=default_registry(settings)
            )
            runtime.bus.close()
            slots = runtime.worker
            # Packs' event handlers run in worker processes too (one process per cursor).
            pack_services = PackServices(runtime)
            await pack_services.sessions.open()
            handlers = HandlerRunner(pack_services, runtime.registry.packs)
            if not until_idle:
                handlers.start()
            err.print(
                f"worker {slots.worker_id}: processing runs in {display_url(url)} "
                f"({plural(slots.concurrency, 'slot')})",
                markup=False,
            )
            try:
                await drained_on_sigterm(slots, settings.drain_seconds, until_idle=until_idle)
                if until_idle and handlers.needed:
                    # The handlers catch up with the log too (retries not yet due wait).
                    await handlers.run_once()
            finally:
                await handlers.stop()
        finally:
            await store.close()
            tracing.flush()  # the spans still batched (nothing when tracing is off)

    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(work())
    finally:  # also after Ctrl-C: what was done
        restore_logging()
        if opened:
            total = sum(ended.values())
            summary = ", ".join(f"{n} {status}" for status, n in sorted(ended.items()))
            out.print(
                f"worker: processed {plural(total, 'run')}" + (f" ({summary})" if summary else ""),
                markup=False,
            )


async def drained_on_sigterm(slots: Any, grace: float, *, until_idle: bool = False) -> None:
    """Run the worker slots; on SIGTERM claim no more runs, let the executing steps finish
    (for at most `grace` seconds, PODIUM_DRAIN_SECONDS) and hand back the runs, then return.
    Runs whose steps outlast the grace are cancelled and handed back too (those steps run
    again elsewhere, as after a crash)."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(slots.run(until_idle=until_idle))

    def on_sigterm() -> None:
        err.print(f"worker: draining (at most {grace:g} s)", markup=False)
        slots.drain()
        loop.call_later(grace, task.cancel)

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if not task.cancelled() or (current is not None and current.cancelling()):
            raise  # Ctrl-C, not the end of the grace period
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    help="In-process worker slots (default: PODIUM_WORKERS; 0 for an API-only process).",
)
@click.option(
    "--dev",
    is_flag=True,
    help="Local development (loopback only): make the administrator `admin` and the app "
    "`demo` (example flows, packs enabled) if missing, and print a console login link.",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="API processes sharing the port (PostgreSQL only); each has its worker slots.",
)
@db_option
def serve(
    host: str, port: int, workers: int | None, db: str | None, dev: bool, processes: int
) -> None:
    """Migrate the database and serve the HTTP API (OpenAPI at /docs) and the console
    (/console/). SIGTERM drains: no new connection or run, WebSockets closed with 1012
    (reconnect), executing steps finish within PODIUM_DRAIN_SECONDS, runs handed back."""
    import uvicorn

    from podium import cli_dev, tracing
    from podium.api.accesslog import uvicorn_log_config

    settings = load_settings()
    tracing.configure(settings)  # here, so that a missing `otel` extra is one line
    settings = settings.model_copy(update={"database_url": database_url(db, settings)})
    if processes > 1:
        if dev:
            raise InvalidInput("--processes and --dev do not go together: --dev is one process")
        if dialect(settings.database_url) == "sqlite":
            raise InvalidInput(
                "--processes needs PostgreSQL: on SQLite the API processes would queue on the "
                "database's single write lock, and rate limits and live-only events (tokens) "
                "would stay within each process; run one API process (with `podium serve "
                "--workers 0` and `podium worker` processes for the steps, docs/deploy.md), "
                "or use PostgreSQL"
            )
    examples = None
    if dev:
        cli_dev.check_loopback(host)
        examples = cli_dev.examples_folder()
        cli_dev.use_examples(examples)
        modules = [*settings.api_python_modules, cli_dev.EXAMPLE_MODULE]
        settings = settings.model_copy(update={"api_python_modules": modules})
    base = browser_url(host, port)
    err.print(
        f"podium {__version__}: serving {base} (API docs at {base}/docs, console at "
        f"{base}/console/) over {display_url(settings.database_url)}",
        markup=False,
    )
    if not dev:
        token = asyncio.run(setup_token(settings))
        if token is not None:
            err.print(
                f"first run: open {base}/console/#/setup?token={token} to create the administrator",
                markup=False,
            )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": settings.log_level.lower(),
        # PODIUM_LOG_FORMAT and _LEVEL for uvicorn's loggers and Podium's; no ?token= or
        # ?api_key= in the logs.
        "log_config": uvicorn_log_config(settings),
        # Podium bounds WebSocket messages itself (close 1009 with a reason), so the server's
        # own limit only has to be above PODIUM_WS_MAX_MESSAGE_BYTES.
        "ws_max_size": max(settings.ws_max_message_bytes * 4, 1 << 20),
        # On SIGTERM open connections (SSE streams too) get this long to end.
        "timeout_graceful_shutdown": settings.drain_seconds,
    }
    if processes > 1:
        # uvicorn's own workers: each process makes the app from the environment (the
        # secret and everything else are shared through the database).
        os.environ["PODIUM_DATABASE_URL"] = settings.database_url
        if workers is not None:
            os.environ["PODIUM_WORKERS"] = str(workers)
        options.update(workers=processes, factory=True)
        uvicorn.run("podium.cli:served_app", **options)
        return
    if not dev:
        uvicorn.run(served_app(settings, workers=workers), **options)
        return
    config = uvicorn.Config(served_app(settings, workers=workers), **options)
    status = cli_dev.serve_dev(config, examples, base, lambda line: err.print(line, markup=False))
    if status:
        raise click.exceptions.Exit(status)


def served_app(settings: Settings | None = None, *, workers: int | None = None) -> Any:
    """The app `podium serve` runs (each of its processes, with --processes): as
    `podium.assembly.create_app`, and on shutdown (SIGTERM) its worker slots drain."""
    from podium.assembly import create_app

    settings = settings or load_settings()
    app = create_app(settings, workers=workers)
    app.state.drain_seconds = settings.drain_seconds
    return app


def browser_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches a server listening on `host`."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


async def setup_token(settings: Settings) -> str | None:
    """The first-run setup token while the database has no administrator, else None."""
    from podium.auth.service import first_run_token

    store = await open_database(settings.database_url, settings, migrate=True)
    try:
        return await first_run_token(store, settings)
    finally:
        await store.close()


# --- podium users -------------------------------------------------------------------------------


@main.group()
def users() -> None:
    """Manage user accounts."""


@users.command("create-admin")
@click.option("--email", required=True)
@click.option("--username", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@db_option
def users_create_admin(email: str, username: str, password: str, db: str | None) -> None:
    """Create a platform administrator (the back office: users and apps)."""
    from podium.auth.service import AuthService

    settings = load_settings()
    url = database_url(db, settings)

    async def create() -> str:
        store = await open_database(url, settings, migrate=True)
        try:
            user = await AuthService(store, settings).create_user(
                email, username, password, is_admin=True
            )
            return user.id
        finally:
            await store.close()

    user_id = asyncio.run(create())
    out.print(f"created administrator {username} ({user_id})", markup=False)


# --- podium flows, podium db --------------------------------------------------------------------


@main.group()
def flows() -> None:
    """Check flow files; push them to a server and list its flows (podium --server URL)."""


@flows.command("validate")
@click.argument("files", metavar="FILE...", nargs=-1, required=True)
def flows_validate(files: tuple[str, ...]) -> None:
    """Check flow files without running them.

    Prints `FILE: ok: …` or every problem on its own line, prefixed with the file's name;
    exits 1 when a file has a problem.
    """
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
    from podium.storage.migrate import head_revision

    settings = load_settings()
    url = database_url(db, settings)

    async def migrate() -> None:
        store = await open_database(url, settings, migrate=True)
        await store.close()

    asyncio.run(migrate())
    packs = [p.name for p in default_registry(settings).packs if p.migrations is not None]
    tables = f" (and the tables of packs {', '.join(packs)})" if packs else ""
    out.print(f"database {display_url(url)} is at revision {head_revision()}{tables}", markup=False)


@database.command("prune")
@click.option("--dry-run", is_flag=True, help="Count what would go; delete nothing.")
@click.option("--app", "app_id", metavar="APP_ID", help="Only this app (app_…).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@db_option
def db_prune(dry_run: bool, app_id: str | None, as_json: bool, db: str | None) -> None:
    """Delete what the retention policies let go (docs/retention.md), as the sweeper does."""
    from podium.engine.retention import KINDS, Retention

    settings = load_settings()

    async def prune(podium: Podium) -> Any:
        return await Retention(podium.store, settings).prune(dry_run=dry_run, app_id=app_id)

    report = with_podium(database_url(db, settings), settings, prune)
    if as_json:
        print_json(out, report.to_json())
        return
    rows = [[app, *(str(counts[kind]) for kind in KINDS)] for app, counts in report.apps.items()]
    rows.append(["total", *(str(report.totals[kind]) for kind in KINDS)])
    title = "would delete (dry run: nothing was deleted)" if dry_run else "deleted"
    print_table(out, ["app", *KINDS], rows, title=title)


@database.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the sizes as JSON.")
@db_option
def db_stats(as_json: bool, db: str | None) -> None:
    """Rows and bytes per table, rows per app: what retention would shrink."""
    from podium.engine.retention import database_stats

    settings = load_settings()
    url = database_url(db, settings)
    stats = with_podium(url, settings, lambda podium: database_stats(podium.store))
    if as_json:
        print_json(out, stats)
        return
    free = stats["free_bytes"]
    spare = f", {free} free (VACUUM gives it back)" if free else ""
    out.print(f"database {display_url(url)}: {stats['bytes']} bytes{spare}", markup=False)
    tables = [
        [name, str(t["rows"]), "-" if t["bytes"] is None else str(t["bytes"])]
        for name, t in stats["tables"].items()
    ]
    print_table(out, ["table", "rows", "bytes"], tables)
    counted = ["sessions", "runs", "steps", "events", "tool_calls", "artifact_versions"]
    apps = [
        [app, a["name"], f"{a['oldest_seq']}-{a['last_seq']}", *(str(a[k]) for k in counted)]
        for app, a in stats["apps"].items()
    ]
    print_table(out, ["app", "name", "log seqs", *counted], apps)


@database.command("vacuum")
@click.option("--full", is_flag=True, help="PostgreSQL: VACUUM FULL (rewrites, locks tables).")
@db_option
def db_vacuum(full: bool, db: str | None) -> None:
    """Give the space of pruned rows back (SQLite: VACUUM shrinks the file)."""
    from podium.storage.sizes import vacuum

    settings = load_settings()
    url = database_url(db, settings)
    asyncio.run(vacuum(url, full=full))
    out.print(f"database {display_url(url)} vacuumed", markup=False)


# --- podium packs ----------------------------------------------------------------------------


@main.group("packs")
def packs() -> None:
    """Packs: bundles of flows, agents, routes, tables and handlers (docs/packs.md)."""


@packs.command("list")
@db_option
def packs_list(db: str | None) -> None:
    """The installed packs (entry points and PODIUM_PACKS), and the apps that enabled each."""
    from podium.packs.base import subscription_of
    from podium.packs.service import flow_names
    from podium.storage import packs as tx

    settings = load_settings()
    registry = default_registry(settings)
    if not registry.packs:
        out.print(
            "no packs installed; install one with PODIUM_PACKS=<module or package directory> "
            "or a package with a podium.packs entry point",
            markup=False,
        )
        return

    async def enabled(podium: Podium) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = await podium.store.run_read(tx.enablements)
        return pairs

    pairs = with_podium(database_url(db, settings), settings, enabled)
    rows = []
    for pack in registry.packs:
        apps = sorted(app for app, name in pairs if name == pack.name)
        rows.append(
            [
                pack.name,
                pack.description,
                ", ".join(flow_names(pack)) or "-",
                ", ".join(subscription_of(h).name for h in pack.handlers) or "-",
                ", ".join(apps) or "-",
                pack.source,
            ]
        )
    print_table(out, ["pack", "description", "flows", "handlers", "enabled in", "from"], rows)


# --- podium knowledge ---------------------------------------------------------------------------


@main.group("knowledge")
def knowledge() -> None:
    """The knowledge store: ingest files, search them (docs/knowledge-cli.md)."""


def app_option(command: Callable[..., T]) -> Callable[..., T]:
    return click.option(
        "--app", metavar="APP", help="The app's id or name (default: the default app)."
    )(command)


@knowledge.command("ingest")
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--namespace", "-n", required=True, help="The namespace to put the documents in.")
@app_option
@db_option
def knowledge_ingest(directory: Path, namespace: str, app: str | None, db: str | None) -> None:
    """Upsert every .md and .txt file under DIR as a document of NAMESPACE.

    A document's key is the file's path under DIR without its suffix; its metadata holds
    the path and the first Markdown heading (`title`). Every file is checked before
    anything is written.
    """
    from podium import cli_knowledge as ck

    settings = load_settings()
    ck.check_namespace(namespace)  # before the database: bad input changes nothing
    files = ck.find_files(directory)
    empty = ck.check_files(files, settings.knowledge_max_document_bytes)
    url = database_url(db, settings)

    async def ingest(podium: Podium) -> ck.IngestSummary:
        app_id = await ck.resolve_app(podium, app)
        return await ck.ingest(
            podium.service("knowledge"),
            app_id,
            namespace,
            files,
            ck.progress_for(err, f"ingest {namespace}"),
            max_batch_documents=settings.knowledge_max_batch_documents,
            max_batch_bytes=settings.knowledge_max_batch_bytes,
            skip=empty,
        )

    summary = with_podium(url, settings, ingest)
    for relative in summary.skipped_empty:
        err.print(f"skipped {directory / relative}: it is empty", markup=False)
    out.print(
        f"ingested {plural(summary.documents, 'document')} "
        f"({plural(summary.chunks, 'chunk')}) from {directory} into namespace {namespace!r}",
        markup=False,
    )


@knowledge.command("search")
@click.argument("namespace", metavar="NS")
@click.argument("query")
@click.option("-k", "k", type=click.IntRange(min=1), default=5, show_default=True)
@app_option
@db_option
def knowledge_search(namespace: str, query: str, k: int, app: str | None, db: str | None) -> None:
    """The documents of NS that best match QUERY, best first."""
    from podium import cli_knowledge as ck

    settings = load_settings()
    url = database_url(db, settings)
    if dialect(url) == "sqlite" and not sqlite_path(url).exists():
        raise NotFound(
            f"{sqlite_path(url)} does not exist; ingest documents first with podium knowledge "
            f"ingest DIR --namespace {namespace} --db {sqlite_path(url)}"
        )

    async def search(podium: Podium) -> dict[str, Any]:
        app_id = await ck.resolve_app(podium, app)
        result: dict[str, Any] = await podium.service("knowledge").search(
            app_id, namespace, query, k=k
        )
        return result

    result = with_podium(url, settings, search)
    if result["note"]:
        err.print(f"note: {result['note']}", markup=False)
    for line in ck.hit_lines(result):
        out.print(line, markup=False)


# --- podium schedules -------------------------------------------------------------------------


@main.group("schedules")
def schedules_group() -> None:
    """Schedules: cron expressions that start a flow (docs/schedules.md). Workers fire them
    (`podium worker`, `podium serve`)."""


def _schedule_service(podium: Podium) -> Any:
    from podium.sessions.schedules import ScheduleService
    from podium.sessions.service import SessionService

    return ScheduleService(SessionService(podium))


def _schedule_rows(records: list[Any]) -> list[list[str]]:
    return [
        [
            r.id,
            r.name,
            r.flow,
            r.cron,
            r.timezone,
            r.overlap,
            "paused" if r.paused else format_time(r.next_fire_at) if r.next_fire_at else "-",
            str(r.fires),
        ]
        for r in records
    ]


SCHEDULE_COLUMNS = ["id", "name", "flow", "cron", "timezone", "overlap", "next", "fires"]


@schedules_group.command("list")
@app_option
@db_option
def schedules_list(app: str | None, db: str | None) -> None:
    """The app's schedules, by name."""
    from podium import cli_knowledge as ck

    settings = load_settings()

    async def listed(podium: Podium) -> list[Any]:
        app_id = await ck.resolve_app(podium, app)
        records: list[Any] = await _schedule_service(podium).list_all(app_id)
        return records

    records = with_podium(database_url(db, settings), settings, listed)
    if not records:
        out.print("no schedules")
        return
    print_table(out, SCHEDULE_COLUMNS, _schedule_rows(records))


@schedules_group.command("create")
@click.argument("name")
@click.option("--flow", required=True, help="A registered flow's name, or a flow file.")
@click.option("--cron", "cron_text", required=True, help="Five fields, or @daily, @hourly…")
@click.option("--timezone", default="UTC", show_default=True, help="An IANA time zone.")
@click.option(
    "--overlap",
    type=click.Choice(["skip", "enqueue", "cancel_previous"]),
    default="skip",
    show_default=True,
    help="When the previous run is still active.",
)
@click.option("--input", "input_text", metavar="JSON", default="{}", help="Each run's input.")
@click.option("--paused", is_flag=True, help="Create it paused.")
@app_option
@db_option
def schedules_create(
    name: str,
    flow: str,
    cron_text: str,
    timezone: str,
    overlap: str,
    input_text: str,
    paused: bool,
    app: str | None,
    db: str | None,
) -> None:
    """Create the schedule NAME, and print it with its next due times."""
    from podium import cli_knowledge as ck
    from podium.sessions.schedules import ScheduleSpec

    run_input = parse_input(input_text)
    settings = load_settings()
    path = flow_file(flow)
    loaded = None
    if path is not None:
        loaded, problems = load_flow_file(path)
        if loaded is None:
            raise CommandError(f"{flow}: {problems[0]}")

    async def create(podium: Podium) -> tuple[Any, list[float]]:
        app_id = await ck.resolve_app(podium, app)
        flow_name = flow
        if loaded is not None and path is not None:
            record = await podium.register_flow(
                loaded, app_id=app_id, base_path=path.resolve().parent
            )
            flow_name = record.name
        service = _schedule_service(podium)
        spec = ScheduleSpec(name, flow_name, run_input, cron_text, timezone, overlap, paused)
        created = await service.create(app_id, spec)
        return created, await service.preview(app_id, created.id, 3)

    created, times = with_podium(database_url(db, settings), settings, create)
    out.print(f"created schedule {created.name} ({created.id})", markup=False)
    zone = ZoneInfo(created.timezone)
    for due in times:
        out.print(f"  next: {datetime.fromtimestamp(due, zone).isoformat()}", markup=False)


def _schedule_action(schedule_id: str, app: str | None, db: str | None, action: str) -> Any:
    from podium import cli_knowledge as ck

    settings = load_settings()

    async def act(podium: Podium) -> Any:
        app_id = await ck.resolve_app(podium, app)
        service = _schedule_service(podium)
        if action == "delete":
            return await service.delete(app_id, schedule_id)
        return await service.set_paused(app_id, schedule_id, action == "pause")

    return with_podium(database_url(db, settings), settings, act)


@schedules_group.command("pause")
@click.argument("schedule_id", metavar="ID")
@app_option
@db_option
def schedules_pause(schedule_id: str, app: str | None, db: str | None) -> None:
    """Pause a schedule: it fires no more until resumed."""
    record = _schedule_action(schedule_id, app, db, "pause")
    out.print(f"paused schedule {record.name}", markup=False)


@schedules_group.command("resume")
@click.argument("schedule_id", metavar="ID")
@app_option
@db_option
def schedules_resume(schedule_id: str, app: str | None, db: str | None) -> None:
    """Resume a schedule: due again from now (the times passed while paused do not fire)."""
    record = _schedule_action(schedule_id, app, db, "resume")
    assert record.next_fire_at is not None
    due = datetime.fromtimestamp(record.next_fire_at, ZoneInfo(record.timezone))
    out.print(f"resumed schedule {record.name}; next: {due.isoformat()}", markup=False)


@schedules_group.command("delete")
@click.argument("schedule_id", metavar="ID")
@app_option
@db_option
def schedules_delete(schedule_id: str, app: str | None, db: str | None) -> None:
    """Delete a schedule (the runs it started stay)."""
    _schedule_action(schedule_id, app, db, "delete")
    out.print(f"deleted schedule {schedule_id}", markup=False)


@schedules_group.command("preview")
@click.argument("cron_text", metavar="CRON")
@click.option("--timezone", default="UTC", show_default=True, help="An IANA time zone.")
@click.option("--count", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option("--after", metavar="ISO", help="From this time (ISO 8601; default: now).")
def schedules_preview(cron_text: str, timezone: str, count: int, after: str | None) -> None:
    """The next due times of CRON in the time zone (no database needed)."""
    from podium.engine.schedules import time_zone
    from podium.sessions.schedules import preview

    zone = time_zone(timezone)
    start = None
    if after is not None:
        try:
            moment = datetime.fromisoformat(after)
        except ValueError:
            raise InvalidInput(f"--after {after!r} is not an ISO 8601 time") from None
        start = (moment if moment.tzinfo else moment.replace(tzinfo=zone)).timestamp()
    for due in preview(cron_text, timezone, count, start):
        out.print(datetime.fromtimestamp(due, zone).isoformat(), markup=False)


# --- podium demo --------------------------------------------------------------------------------


@main.command()
@click.option(
    "--db",
    metavar="PATH",
    help="SQLite database file (or a database URL) to keep; default: a throwaway file, "
    "removed at the end.",
)
@click.option(
    "--pause",
    type=click.FloatRange(0, 3600),
    default=0.0,
    metavar="SECONDS",
    help="Wait this long once the server is up, before the journeys (to open its /docs page "
    "first, or start a screen recording).",
)
def demo(db: str | None, pause: float) -> None:
    """Start an embedded server, enable the shipped packs in a demo app, and walk
    AppBuilder → RevenueDashboard and a lead submit → analyze, live (offline model)."""
    from podium.assembly import SHIPPED_PACKS, create_app
    from podium.demo import JOURNEYS, Tour, run_demo

    settings = load_settings()
    url = database_url(db, settings) if db is not None else None
    tour = Tour(SHIPPED_PACKS, JOURNEYS)
    run_demo(settings, url, default_registry, create_app, tour, pause_seconds=pause)


# --- commands against a running server (podium/cli_remote.py) ------------------------------

cli_remote.register(main, flows)
