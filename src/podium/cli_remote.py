"""The `podium` commands that work on a running server through `podium.client`:
`login`/`logout`, `apps`, `flows push`/`list`, `sessions`, `events tail`, `chat`, `artifacts`.

The server is `--server URL` (before the command: `podium --server URL sessions list`), else
`PODIUM_SERVER`, else the one of the last `podium login`. Logins and API keys are kept per
server in a file only its owner can read (mode 0600): `PODIUM_CLI_CONFIG`, else
`$XDG_CONFIG_HOME/podium/cli.json` (`~/.config/podium/cli.json`). A session's run is
followed with the same live board and terminal questions as `podium run`.
"""

from __future__ import annotations

import functools
import json
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import httpx

from podium.cli_display import (
    EXIT_FAILED,
    EXIT_USAGE,
    format_time,
    make_console,
    one_line,
    print_json,
    print_table,
)
from podium.cli_remote_run import RemoteRun
from podium.client import APIError, Client, StreamLost, api_base
from podium.client.models import EventPublic, TokenResponse

F = TypeVar("F", bound=Callable[..., Any])

out = make_console()
err = make_console(stderr=True)


# --- the config file ----------------------------------------------------------------------


def config_path() -> Path:
    """Where logins are kept: PODIUM_CLI_CONFIG, else the user's config directory."""
    explicit = os.environ.get("PODIUM_CLI_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "podium" / "cli.json"


def read_config(path: Path) -> dict[str, Any]:
    """The stored logins; refused when others may read the file (it holds credentials)."""
    if not path.exists():
        return {"servers": {}}
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        fail(
            f"{path} holds logins and is open to other users (mode {mode:04o}); "
            f"make it private with: chmod 600 {path}"
        )
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        fail(f"{path} is not a podium CLI config ({exc}); remove it and log in again")
    if not isinstance(config, dict) or not isinstance(config.get("servers"), dict):
        fail(f"{path} is not a podium CLI config; remove it and log in again")
    return config


def write_config(path: Path, config: dict[str, Any]) -> None:
    """Write the file as its owner's only (0600, in a 0700 directory), replacing it whole."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # whatever the umask or an older file said
        json.dump(config, handle, indent=2)
    os.replace(partial, path)


# --- the connection -----------------------------------------------------------------------


def fail(message: str, exit_code: int = EXIT_FAILED) -> NoReturn:
    click.echo(f"error: {one_line(message)}", err=True)
    raise click.exceptions.Exit(exit_code)


@dataclass
class Remote:
    """The server of this command, its stored credential, and the client that uses it."""

    server: str
    path: Path
    config: dict[str, Any]
    _client: Client | None = field(default=None, repr=False)

    @property
    def stored(self) -> dict[str, Any]:
        entry = self.config["servers"].setdefault(self.server, {})
        assert isinstance(entry, dict)
        return entry

    def keep_tokens(self, tokens: TokenResponse) -> None:
        """Store a rotated pair at once: the old refresh token is spent."""
        self.stored.update(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            user=tokens.user.username,
        )
        self.stored.pop("api_key", None)
        self.config["default"] = self.server
        write_config(self.path, self.config)

    @property
    def client(self) -> Client:
        if self._client is None:
            entry = self.stored
            self._client = Client(
                self.server,
                api_key=entry.get("api_key"),
                access_token=entry.get("access_token"),
                refresh_token=entry.get("refresh_token"),
                on_tokens=self.keep_tokens,
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def logged_in(self) -> Client:
        entry = self.stored
        if not (entry.get("api_key") or entry.get("refresh_token")):
            fail(f"not logged in to {self.server}; run: podium --server {self.server} login")
        return self.client

    def app_id(self, app: str | None) -> str:
        """The app named by `--app` (an id or a name), or the caller's only app."""
        apps = list(self.logged_in().iter_apps())
        if app is None:
            app = os.environ.get("PODIUM_APP") or self.stored.get("app")
        if app is None:
            if len(apps) == 1:
                return apps[0].id
            names = ", ".join(a.name for a in apps) or "none yet: podium apps create NAME"
            fail(f"which app? pass --app NAME (yours: {names})", EXIT_USAGE)
        for candidate in apps:
            if app in (candidate.id, candidate.name):
                return candidate.id
        fail(f"no app {app!r} on {self.server} that you can see (podium apps list)")


def remote() -> Remote:
    """The server of the current command (from --server, PODIUM_SERVER or the config)."""
    context = click.get_current_context()
    path = config_path()
    config = read_config(path)
    server = context.meta.get("podium.server") or config.get("default")
    if not server:
        fail(
            "no server: pass --server URL before the command (podium --server "
            "http://127.0.0.1:8000 login) or set PODIUM_SERVER",
            EXIT_USAGE,
        )
    try:
        api_base(str(server))
    except ValueError as exc:
        fail(f"--server: {exc}", EXIT_USAGE)
    connection = Remote(str(server).rstrip("/"), path, config)
    context.call_on_close(connection.close)
    return connection


def talks_to_server(command: F) -> F:
    """Turn the client's errors into one `error: …` line, as the local commands do."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except APIError as exc:
            hint = ""
            if exc.status == 401:
                hint = "; log in again with: podium login"
            fail(f"{exc.message} ({exc.status} {exc.code}){hint}")
        except StreamLost as exc:
            fail(str(exc))
        except httpx.HTTPError as exc:
            fail(f"cannot reach the server: {exc}")
        except ValueError as exc:  # a bad --server URL
            fail(str(exc), EXIT_USAGE)

    return wrapper  # type: ignore[return-value]


app_option = click.option(
    "--app", metavar="APP", help="The app (id or name); default: PODIUM_APP, else your only one."
)


# --- login, logout, apps --------------------------------------------------------------------


@click.command()
@click.option("--username", "-u", metavar="NAME", help="Email or username.")
@click.option("--password", envvar="PODIUM_PASSWORD", metavar="PASSWORD", help="(asked)")
@click.option("--api-key", metavar="KEY", help="Keep an app's API key (pk_…) instead.")
@talks_to_server
def login(username: str | None, password: str | None, api_key: str | None) -> None:
    """Log in to the server (or keep an API key) for the next commands."""
    connection = remote()
    if api_key:
        client = Client(connection.server, api_key=api_key)
        with client:
            app = next(iter(client.iter_apps()), None)
        connection.stored.clear()
        connection.stored.update(api_key=api_key)
        connection.config["default"] = connection.server
        write_config(connection.path, connection.config)
        where = f" for app {app.name!r}" if app else ""
        out.print(f"kept an API key{where} for {connection.server}", markup=False)
        return
    if username is None:
        username = click.prompt("username")
    if password is None:
        password = click.prompt("password", hide_input=True)
    connection.stored.clear()
    tokens = connection.client.login(username, password)  # stored by keep_tokens
    out.print(f"logged in to {connection.server} as {tokens.user.username}", markup=False)


@click.command()
@talks_to_server
def logout() -> None:
    """Revoke the stored login and forget it."""
    connection = remote()
    if connection.stored.get("refresh_token"):
        connection.client.logout()
    connection.config["servers"].pop(connection.server, None)
    write_config(connection.path, connection.config)
    out.print(f"logged out of {connection.server}", markup=False)


@click.group()
def apps() -> None:
    """The apps you are a member of, on the server."""


@apps.command("list")
@talks_to_server
def apps_list() -> None:
    client = remote().logged_in()
    rows = [[a.id, a.name, a.description or ""] for a in client.iter_apps()]
    print_table(out, ["app", "name", "description"], rows)


@apps.command("create")
@click.argument("name")
@click.option("--description", metavar="TEXT")
@talks_to_server
def apps_create(name: str, description: str | None) -> None:
    app = remote().logged_in().create_app(name, description)
    out.print(f"created app {app.name!r}: {app.id}", markup=False)


# --- flows -----------------------------------------------------------------------------


@click.command("push")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@app_option
@talks_to_server
def flows_push(file: Path, app: str | None) -> None:
    """Register a flow file (.json, .yaml, .yml) on the server; a change is a new version."""
    connection = remote()
    app_id = connection.app_id(app)
    text = file.read_text()
    if file.suffix in (".yaml", ".yml"):
        flow = connection.client.register_flow(app_id, text)
    else:
        try:
            definition = json.loads(text)
        except ValueError as exc:
            fail(f"{file} is not JSON: {exc}", EXIT_USAGE)
        flow = connection.client.register_flow(app_id, definition)
    out.print(f"flow {flow.name!r} v{flow.version}: {flow.id}", markup=False)


@click.command("list")
@app_option
@talks_to_server
def flows_list(app: str | None) -> None:
    """The app's flows on the server (latest versions; shipped ones too)."""
    connection = remote()
    flows = connection.client.list_flows(connection.app_id(app))
    rows = [
        [f.name, str(f.version), "shipped" if f.shipped else "", f.description or ""] for f in flows
    ]
    print_table(out, ["flow", "version", "", "description"], rows)


# --- sessions --------------------------------------------------------------------------


@click.group()
def sessions() -> None:
    """Start, list, show, answer and cancel sessions on the server."""


@sessions.command("start")
@click.argument("flow")
@click.option("--input", "input_text", metavar="JSON", default="{}", help="A JSON object.")
@click.option("--follow/--no-follow", default=True, help="Follow the run live (default).")
@app_option
@talks_to_server
def sessions_start(flow: str, input_text: str, follow: bool, app: str | None) -> None:
    """Start a session of FLOW (a registered flow's name) and follow its run: its nodes
    live, its questions asked here, as `podium run` does."""
    try:
        run_input = json.loads(input_text)
    except ValueError as exc:
        fail(f"--input is not JSON: {exc}", EXIT_USAGE)
    if not isinstance(run_input, dict):
        fail('--input is a JSON object, e.g. --input \'{"name": "Ada"}\'', EXIT_USAGE)
    connection = remote()
    app_id = connection.app_id(app)
    session = connection.client.start_session(app_id, flow, run_input)
    out.print(f"session {session.id}: flow {session.flow!r}, run {session.run_id}", markup=False)
    if follow and session.run_id:
        code = RemoteRun(connection.client, app_id, session.id, session.run_id).follow()
        raise click.exceptions.Exit(code)


@sessions.command("list")
@click.option("--flow", metavar="NAME")
@click.option(
    "--status", type=click.Choice(["active", "waiting", "completed", "failed", "cancelled"])
)
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@app_option
@talks_to_server
def sessions_list(flow: str | None, status: str | None, limit: int, app: str | None) -> None:
    """The app's sessions, newest first."""
    connection = remote()
    page = connection.client.list_sessions(
        connection.app_id(app), flow=flow, status=status, limit=limit
    )
    rows = [
        [s.id, s.flow or "", s.status, s.run_status or "", format_time(s.updated_at)]
        for s in page.items
    ]
    print_table(out, ["session", "flow", "status", "run", "updated"], rows)


@sessions.command("show")
@click.argument("session_id", metavar="SESSION")
@app_option
@talks_to_server
def sessions_show(session_id: str, app: str | None) -> None:
    """A session's status, state and pending question."""
    connection = remote()
    session = connection.client.get_session(connection.app_id(app), session_id)
    out.print(f"session {session.id}: flow {session.flow!r}, {session.status}", markup=False)
    if session.run_id:
        out.print(f"run {session.run_id}: {session.run_status}", markup=False)
    question = session.pending_question
    if question is not None:
        out.print(f"question ({question.interrupt_id}): {question.question}", markup=False)
        if question.choices:
            out.print(f"choices: {', '.join(question.choices)}", markup=False)
    out.print("state:")
    print_json(out, session.state)


@sessions.command("answer")
@click.argument("session_id", metavar="SESSION")
@click.argument("answer")
@click.option("--json", "as_json", is_flag=True, help="ANSWER is a JSON value.")
@click.option("--follow/--no-follow", default=False, help="Then follow the run live.")
@app_option
@talks_to_server
def sessions_answer(
    session_id: str, answer: str, as_json: bool, follow: bool, app: str | None
) -> None:
    """Answer the session's pending question."""
    connection = remote()
    app_id = connection.app_id(app)
    session = connection.client.get_session(app_id, session_id)
    question = session.pending_question
    if question is None:
        fail(f"session {session_id} has no pending question (it is {session.status})")
    value: Any = answer
    if as_json:
        try:
            value = json.loads(answer)
        except ValueError as exc:
            fail(f"ANSWER is not JSON: {exc}", EXIT_USAGE)
    queued = connection.client.answer(app_id, session_id, question.interrupt_id, value)
    out.print(f"answered; run {queued.run_id} is queued again", markup=False)
    if follow:
        code = RemoteRun(connection.client, app_id, session_id, queued.run_id).follow()
        raise click.exceptions.Exit(code)


@sessions.command("cancel")
@click.argument("session_id", metavar="SESSION")
@app_option
@talks_to_server
def sessions_cancel(session_id: str, app: str | None) -> None:
    """Cancel the session's active runs."""
    connection = remote()
    session = connection.client.cancel_session(connection.app_id(app), session_id)
    out.print(f"session {session.id}: {session.status}", markup=False)


# --- events, chat, artifacts -------------------------------------------------------------


def event_line(event: EventPublic) -> str:
    seq = "-" if event.seq is None else str(event.seq)
    return f"{seq} {event.type} {json.dumps(event.data, separators=(',', ':'))}"


@click.group()
def events() -> None:
    """The app's event log on the server."""


@events.command("tail")
@click.option("--session", "session_id", metavar="SESSION")
@click.option("--run", "run_id", metavar="RUN")
@click.option("--since", type=click.IntRange(min=0), default=0, help="The last seq already seen.")
@click.option("--follow/--no-follow", default=True, help="Go on with live events (default).")
@app_option
@talks_to_server
def events_tail(
    session_id: str | None, run_id: str | None, since: int, follow: bool, app: str | None
) -> None:
    """Print the events after --since, then live ones, one line each (`seq type data`).
    A dropped connection (a restart of the server) is resumed from the last seq printed."""
    connection = remote()
    app_id = connection.app_id(app)
    if not follow:
        while True:
            page = connection.client.events(
                app_id, since=since, session_id=session_id, run_id=run_id
            )
            for event in page.items:
                out.print(event_line(event), markup=False)
            if not page.items:
                return
            since = page.next_since
    for event in connection.client.stream_events(
        app_id, since=since, session_id=session_id, run_id=run_id
    ):
        out.print(event_line(event), markup=False)


@click.command()
@click.argument("message", required=False)
@click.option("--agent", default="chat", show_default=True)
@click.option("--session", "session_id", metavar="SESSION", help="Go on with this chat.")
@app_option
@talks_to_server
def chat(message: str | None, agent: str, session_id: str | None, app: str | None) -> None:
    """Chat with an agent: its answer streams here token by token. Without MESSAGE, each
    line typed is a message, until the input ends."""
    connection = remote()
    app_id = connection.app_id(app)
    lines: Iterator[str] = iter([message]) if message is not None else prompts()
    for line in lines:
        for chunk in connection.client.stream_chat(
            app_id, line, agent=agent, session_id=session_id
        ):
            if chunk.type == "chat.started":
                session_id = str(chunk.data["session_id"])
            elif chunk.type == "message.delta":
                out.print(str(chunk.data.get("delta", "")), end="", markup=False)
            elif chunk.type == "run.failed":
                err.print(f"\nerror: {one_line(str(chunk.data.get('error', '')))}", markup=False)
            elif chunk.type == "node.interrupted":
                out.print(f"\n? {chunk.data.get('question', '')}", markup=False)
        out.print()
    if session_id:
        err.print(f"chat session {session_id}", markup=False)


def prompts() -> Iterator[str]:
    while True:
        try:
            line = click.prompt("", prompt_suffix="> ", default="", show_default=False)
        except click.exceptions.Abort:
            return
        if line.strip():
            yield line


@click.group()
def artifacts() -> None:
    """Read and watch artifacts on the server."""


@artifacts.command("show")
@click.argument("artifact_id", metavar="ARTIFACT")
@app_option
@talks_to_server
def artifacts_show(artifact_id: str, app: str | None) -> None:
    """An artifact's type, version and state."""
    connection = remote()
    artifact = connection.client.get_artifact(connection.app_id(app), artifact_id)
    out.print(f"artifact {artifact.id}: {artifact.type} v{artifact.version}", markup=False)
    print_json(out, artifact.state)


@artifacts.command("watch")
@click.argument("artifact_id", metavar="ARTIFACT")
@app_option
@talks_to_server
def artifacts_watch(artifact_id: str, app: str | None) -> None:
    """Print the artifact's state, then its state again at every new version, live."""
    connection = remote()
    app_id = connection.app_id(app)
    artifact = connection.client.get_artifact(app_id, artifact_id)
    out.print(f"artifact {artifact.id}: {artifact.type} v{artifact.version}", markup=False)
    print_json(out, artifact.state)
    shown = artifact.version
    for event in connection.client.watch_artifact(app_id, artifact_id):
        version = event.data.get("version")
        if isinstance(version, int) and version > shown:
            current = connection.client.get_artifact(app_id, artifact_id)
            shown = current.version
            out.print(f"v{current.version} ({event.type}):", markup=False)
            print_json(out, current.state)


def register(main: click.Group, flows: click.Group) -> None:
    """Add the server commands to `podium` (and `flows push`/`list` to `podium flows`)."""
    for command in (login, logout, apps, sessions, events, chat, artifacts):
        main.add_command(command)
    flows.add_command(flows_push)
    flows.add_command(flows_list)
