"""Browser-test fixtures: a live `podium serve`, users and apps made over its API, and Debian's
chromium driven by Playwright (sync API) against the console at `/console/`.

- `server` (one per test module): `python -m podium serve` from this checkout's `src` on a free
  loopback port over a temporary SQLite file, with its own PODIUM_* settings; `.url` is its
  origin (`http://127.0.0.1:PORT`), `.api(token)` an httpx client for `/api/v1`, `.cli(...)`
  runs `podium ...` on its database. `start_server(folder)` starts another one (a test of the
  first-run page wants a server with no administrator).
- `admin`: the administrator, created with `podium users create-admin` as the README does.
- `make_user(name)`, `make_app(owner, name)`: made over the API (the admin creates the user).
- `page`: a new browser context (1280×800) per test; an uncaught script error in it fails the
  test. `browser_log` holds its console messages and script errors.
- `login(page, user)`: through the console's login form.
- `screenshot(page, name)`: `docs/screenshots/<name>.png`.
- `axe_check(page)`: axe-core (tests/browser/node_modules, `make browser-deps`) on the page;
  fails on serious or critical violations, listing them.

What is missing fails with the command that brings it: `apt-get install chromium`,
`make browser-deps` (there are no skips here).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
BROWSER_TESTS = Path(__file__).resolve().parent
AXE = BROWSER_TESTS / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
PASSWORD = "violet kettle marching 42"
SECRET = "browser-test-secret-key-long-enough-for-hs256"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is a browser test (`-m "not browser"` leaves them out)."""
    for item in items:
        if BROWSER_TESTS in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(**extra: str) -> dict[str, str]:
    """A server (and CLI) process's environment: this checkout's sources, fast polling, no
    inherited PODIUM_* settings, rate limits out of the way of a test's bursts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    paths = [str(SRC), *(p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.update(
        PODIUM_SECRET_KEY=SECRET,
        PODIUM_WORKERS="2",
        PODIUM_POLL_SECONDS="0.1",
        PODIUM_LEASE_SECONDS="3",
        PODIUM_RATE_LIMIT="1000000/minute",
        PODIUM_WS_RATE_LIMIT="1000000/minute",
        PODIUM_LOGIN_RATE_LIMIT="1000000/minute",
        PODIUM_LOGIN_ADDRESS_RATE_LIMIT="1000000/minute",
    )
    env.update(extra)
    return env


@dataclass
class Server:
    """`python -m podium serve --host 127.0.0.1 --port PORT --db DB` as a subprocess."""

    folder: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    clients: list[httpx.Client] = field(default_factory=list)
    admin: User | None = None

    @property
    def db(self) -> Path:
        return self.folder / "podium.db"

    @property
    def log(self) -> Path:
        return self.folder / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        """The origin, e.g. http://127.0.0.1:PORT (the console is at `{url}/console/`)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def console(self) -> str:
        return f"{self.url}/console/"

    def start(self, timeout: float = 30.0) -> Server:
        assert self.process is None, "already running"
        command = [sys.executable, "-m", "podium", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--db", str(self.db)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.folder
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                reply = httpx.get(f"{self.url}/api/v1/health", timeout=2)
                if reply.status_code == 200 and reply.json().get("status") == "ok":
                    return self
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                self.process = None
                raise AssertionError(f"podium serve exited early:\n{self.output()}")
            if time.monotonic() > deadline:
                self.stop(signal.SIGKILL)
                raise AssertionError(f"podium serve did not answer in {timeout} s")
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"podium serve did not stop:\n{self.output()}") from None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def api(self, token: str | None = None) -> httpx.Client:
        """An httpx client for `/api/v1` (paths like "/apps"), with the bearer token if given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=30)
        self.clients.append(client)
        return client

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`podium ARGS --db DB` (this checkout's sources, the server's settings)."""
        return subprocess.run(
            [sys.executable, "-m", "podium", *args, "--db", str(self.db)],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.folder,
            timeout=60,
            check=False,
        )


def start_server(folder: Path, **env: str) -> Server:
    """A running server over a new database in `folder` (PODIUM_* overrides in `env`)."""
    folder.mkdir(parents=True, exist_ok=True)
    return Server(folder, server_env(**env)).start()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("server"))
    try:
        yield running
    finally:
        running.stop()


# --- users and apps -------------------------------------------------------------------------


@dataclass
class User:
    username: str
    password: str
    email: str
    id: str
    access_token: str
    refresh_token: str

    @property
    def token(self) -> str:
        return self.access_token


def api_login(server: Server, username: str, password: str = PASSWORD) -> User:
    reply = server.api().post("/auth/login", json={"identifier": username, "password": password})
    assert reply.status_code == 200, f"login {username}: {reply.status_code} {reply.text}"
    body = reply.json()
    return User(
        username=username,
        password=password,
        email=body["user"]["email"],
        id=body["user"]["id"],
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
    )


@pytest.fixture(scope="module")
def admin(server: Server) -> User:
    """The administrator `admin`, made with `podium users create-admin` (once per server)."""
    if server.admin is None:
        done = server.cli(
            *("users", "create-admin", "--email", "admin@example.com", "--username", "admin"),
            *("--password", PASSWORD),
        )
        assert done.returncode == 0, f"podium users create-admin:\n{done.stdout}{done.stderr}"
        server.admin = api_login(server, "admin")
    return server.admin


@pytest.fixture(scope="module")
def make_user(server: Server, admin: User) -> Callable[[str], User]:
    """`make_user("alice")`: a user the admin creates over the API, logged in over the API."""

    def make(username: str) -> User:
        reply = server.api(admin.token).post(
            "/users",
            json={"email": f"{username}@example.com", "username": username, "password": PASSWORD},
        )
        assert reply.status_code == 201, f"create user {username}: {reply.text}"
        return api_login(server, username)

    return make


@pytest.fixture(scope="module")
def make_app(server: Server) -> Callable[[User, str], dict[str, Any]]:
    """`make_app(owner, "shop")`: the app (its JSON: id, name, ...) `owner` creates."""

    def make(owner: User, name: str) -> dict[str, Any]:
        reply = server.api(owner.token).post("/apps", json={"name": name})
        assert reply.status_code == 201, f"create app {name}: {reply.text}"
        app: dict[str, Any] = reply.json()
        return app

    return make


# --- the browser ----------------------------------------------------------------------------


def require_chromium(path: Path = CHROMIUM) -> None:
    if not path.exists():
        pytest.fail(
            f"{path} is missing: the browser tests drive Debian's chromium "
            "(`apt-get install chromium`; `bash .ci/run` installs it)",
            pytrace=False,
        )


def require_axe(path: Path = AXE) -> None:
    if not path.exists():
        pytest.fail(
            f"{path} is missing: run `make browser-deps` (npm ci --prefix tests/browser)",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Per module, not per session: sync Playwright keeps an event loop running in this thread
    # while it is started, and the tests after tests/browser call asyncio.run().
    require_chromium()
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()
    finally:
        playwright.stop()


@dataclass
class BrowserLog:
    """What the page said: console messages as (type, text), and uncaught script errors."""

    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def console_errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"]


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


def _text(message: Any) -> str:
    """A console message's text, with the resource's address when it is about one (a 404)."""
    url = (message.location or {}).get("url", "")
    return f"{message.text} ({url})" if url and url not in message.text else str(message.text)


def new_page(browser: Any, server: Server, log: BrowserLog) -> Any:
    """A page in a context of its own (no shared storage), recording into `log`."""
    context = browser.new_context(viewport=VIEWPORT, base_url=server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("console", lambda message: log.console.append((message.type, _text(message))))
    page.on("pageerror", lambda error: log.errors.append(str(error)))
    return page


@pytest.fixture
def page(browser: Any, server: Server, browser_log: BrowserLog) -> Iterator[Any]:
    """A fresh page (own context, 1280×800, `page.goto("/console/")` works). An uncaught
    script error while the test ran fails it."""
    opened = new_page(browser, server, browser_log)
    try:
        yield opened
    finally:
        opened.context.close()
    if browser_log.errors:
        pytest.fail("uncaught script errors in the page:\n" + "\n".join(browser_log.errors))


@pytest.fixture
def new_tab(browser: Any, server: Server) -> Iterator[Callable[[], Any]]:
    """`new_tab()`: another page in a context of its own (a second tab or browser)."""
    contexts: list[Any] = []

    def make() -> Any:
        opened = new_page(browser, server, BrowserLog())
        contexts.append(opened.context)
        return opened

    yield make
    for context in contexts:
        context.close()


def login_in_page(page: Any, user: User) -> None:
    """Log `user` in through the console's login form; returns once the page left #/login."""
    if "/console/" not in page.url:
        page.goto("/console/#/login")
    else:
        page.evaluate("location.hash = '#/login'")
    page.get_by_label(re.compile(r"user ?name|email", re.I)).first.fill(user.username)
    page.get_by_label(re.compile(r"password", re.I)).first.fill(user.password)
    page.get_by_role("button", name=re.compile(r"log ?in|sign ?in", re.I)).click()
    # (No page.wait_for_function: its polling evaluates a string, which the console's CSP
    # refuses; expect() matches on Playwright's side.)
    expect(page).not_to_have_url(re.compile(r"#/login"))


@pytest.fixture
def login() -> Callable[[Any, User], None]:
    """`login(page, user)`: through the login form."""
    return login_in_page


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    """`screenshot(page, "sessions")` → docs/screenshots/sessions.png (1280×800)."""

    def take(page: Any, name: str) -> Path:
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", name), f"bad screenshot name {name!r}"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size(VIEWPORT)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return take


SERIOUS = ("serious", "critical")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (all rules axe runs by default)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol, so the page's CSP (script-src 'self')
        # does not stop it, and the console itself never loads axe.
        page.evaluate("(source) => { (0, eval)(source); }", AXE.read_text())
    result: dict[str, Any] = page.evaluate(
        "async () => JSON.parse(JSON.stringify(await window.axe.run(document)))"
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- [{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    at {json.dumps(node['target'])}: {node['html'][:160]}")
        if len(violation["nodes"]) > 5:
            lines.append(f"    … and {len(violation['nodes']) - 5} more elements")
    return "\n".join(lines)


@pytest.fixture
def axe_check() -> Callable[[Any], list[dict[str, Any]]]:
    """`axe_check(page)`: no serious or critical axe-core violation on the page as it is now;
    returns all violations (minor and moderate ones included) for a test that wants more."""
    require_axe()

    def check(page: Any) -> list[dict[str, Any]]:
        violations = axe_violations(page)
        serious = [v for v in violations if v.get("impact") in SERIOUS]
        assert not serious, f"axe-core: serious violations on {page.url}:\n{describe(serious)}"
        return violations

    return check
