"""The app served by uvicorn in a thread of the test process, for real concurrency and streams.

`ThreadedServer` runs `create_app` under uvicorn in a background thread on a loopback port
(the socket is bound before the thread starts, so no other process can take the port), and
exposes the server's event loop so a test can call the app's services directly, as
`podium users create-admin` does. Not a test module: test_sessions, test_events and test_ws
use it. (tests/api/live.py is the `podium serve` subprocess of the end-to-end tests.)
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx2
import uvicorn
from tests.api.conftest import PASSWORD

from podium.assembly import create_app
from podium.config import Settings

T = TypeVar("T")
START_SECONDS = 20.0


class ThreadedServer:
    def __init__(self, settings: Settings, workers: int = 2) -> None:
        self.app = create_app(settings, workers=workers)
        config = uvicorn.Config(
            self.app, lifespan="on", log_level="warning", ws="websockets-sansio"
        )
        self.server = uvicorn.Server(config)
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = int(self.socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/api/v1/ws"
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._serve, name="threaded-server", daemon=True)

    def _serve(self) -> None:
        async def serve() -> None:
            self.loop = asyncio.get_running_loop()
            await self.server.serve(sockets=[self.socket])

        asyncio.run(serve())

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + START_SECONDS
        pause = threading.Event()  # never set: a bounded wait between looks at the flag
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            pause.wait(0.02)
        if not self.server.started:
            self.stop()
            raise RuntimeError("the threaded server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(START_SECONDS)
        self.socket.close()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the server's loop and return its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(START_SECONDS)

    @property
    def services(self) -> Any:
        return self.app.state.services

    def client(self, **kwargs: Any) -> httpx2.Client:
        kwargs.setdefault("timeout", 30.0)
        return httpx2.Client(base_url=self.url, **kwargs)

    def login(self, username: str, *, admin: bool = False) -> ServerUser:
        """Create a user (through the service) and log in over HTTP."""
        self.call(
            self.services.auth.create_user(
                f"{username}@example.com", username, PASSWORD, is_admin=admin
            )
        )
        with self.client() as client:
            response = client.post(
                "/api/v1/auth/login", json={"identifier": username, "password": PASSWORD}
            )
        assert response.status_code == 200, response.text
        body = response.json()
        return ServerUser(self, body["user"], body["access_token"])


@dataclass
class ServerUser:
    server: ThreadedServer
    user: dict[str, Any]
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def client(self) -> httpx2.Client:
        return self.server.client(headers=self.headers)

    def create_app(self, name: str) -> str:
        with self.client() as client:
            response = client.post("/api/v1/apps", json={"name": name})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


@contextmanager
def threaded_server(settings: Settings, workers: int = 2) -> Iterator[ThreadedServer]:
    server = ThreadedServer(settings, workers)
    server.start()
    try:
        yield server
    finally:
        server.stop()
