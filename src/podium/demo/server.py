"""The server `podium demo` runs: what `podium serve` serves (`create_app` under uvicorn),
in a thread of this process on a free loopback port, with settings that need nothing from
the machine — the offline model, no providers, no integrations, a throwaway SQLite file.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from podium.config import Settings
from podium.engine.registry import Registry
from podium.errors import PodiumError
from podium.packs.loader import PackLoadError, load_spec

T = TypeVar("T")
OFFLINE_MODEL = "offline/echo"
START_TIMEOUT_SECONDS = 30.0


class DemoFailed(PodiumError):
    """The demo could not go on; the message says what happened and what to do."""

    code = "demo_failed"


def demo_settings(settings: Settings, database_url: str) -> Settings:
    """`settings` for the demo: the database, a fresh signing key, the offline model, and no
    model provider or integration, so that nothing leaves the machine whatever the
    environment holds (the leads handlers then skip the CRM, e-mail and calendar)."""
    offline: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": secrets.token_urlsafe(48),
        "default_model": OFFLINE_MODEL,
        "poll_seconds": min(settings.poll_seconds, 0.1),
        "allow_signup": False,
    }
    for name in Settings.model_fields:
        if name.endswith(("_api_key", "_access_token", "_from_email")) or name in (
            "ollama_base_url",
        ):
            offline[name] = None
    return settings.model_copy(update=offline)


def with_shipped_packs(
    settings: Settings,
    assemble: Callable[[Settings], Registry],
    shipped: Mapping[str, str],
) -> tuple[Settings, Registry]:
    """The settings and registry with the `shipped` packs (name → module) installed: found
    through the `podium.packs` entry points, else added to `packs` by module name (an
    install whose entry points predate its packs). Raises DemoFailed naming a shipped pack
    that cannot be loaded and what to do; PackLoadError for the operator's own packs."""
    registry = assemble(settings)
    installed = {pack.name for pack in registry.packs}
    missing = [name for name in shipped if name not in installed]
    if not missing:
        return settings, registry
    failures = []
    for name in missing:
        try:
            load_spec(shipped[name])
        except PackLoadError as exc:
            failures.append(f"{name} cannot be loaded ({exc.message})")
    if failures:
        raise DemoFailed(
            f"the demo needs the packs {', '.join(shipped)}, which ship with podium; "
            f"{'; '.join(failures)}. Reinstall podium from its clone (`make venv`, or "
            "`pip install -e .`) so that src/podium/packs/ and its `podium.packs` entry "
            "points are installed"
        )
    modules = [shipped[name] for name in missing]
    settings = settings.model_copy(update={"packs": [*settings.packs, *modules]})
    return settings, assemble(settings)


class EmbeddedServer:
    """`podium serve` in a thread: the API application under uvicorn on 127.0.0.1 and a
    port the system chose free. `start()` returns once the API answers (migrated, workers
    running); `stop()` ends it and waits for it."""

    def __init__(self, settings: Settings, app: Any) -> None:
        self.settings = settings
        self.app = app  # create_app(settings, registry=...): the FastAPI application
        self.port = 0
        self._server: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import uvicorn

        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        self.port = int(listener.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
            ws_max_size=max(self.settings.ws_max_message_bytes * 4, 1 << 20),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._serve, args=(listener,), name="podium-demo-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                why = f": {self._failure}" if self._failure else " (see the messages above)"
                raise DemoFailed(f"the embedded server did not start{why}")
            time.sleep(0.01)

    def _serve(self, listener: socket.socket) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            await self._server.serve(sockets=[listener])

        try:
            asyncio.run(serve())
        except BaseException as exc:  # shown by start() or stop(); the thread just ends
            self._failure = exc
        finally:
            listener.close()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run `coroutine` on the server's event loop (where its services live)."""
        assert self._loop is not None, "the server is not running"
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def create_user(self, username: str, password: str) -> None:
        """A platform administrator, made by the server's own auth service (what
        `podium users create-admin` does), so the demo can sign in over HTTP."""
        auth = self.app.state.services.auth
        email = f"{username}@example.com"
        self.call(auth.create_user(email, username, password, is_admin=True))

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None
