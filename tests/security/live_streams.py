"""An open WebSocket and an open SSE stream on the live server, watched until it ends: what
an attacker holds while their access is revoked. Not a test module."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from tests.api.live import LiveServer


@dataclass
class SocketEnd:
    code: int | None
    reason: str
    seconds: float  # from the moment `closed_within` started waiting


@dataclass
class OpenSocket:
    """A WebSocket subscribed to an app, with its messages so far."""

    ws: Any
    messages: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    async def open(cls, server: LiveServer, credential: str, app_id: str) -> OpenSocket:
        url = f"ws://127.0.0.1:{server.port}/api/v1/ws?{credential}"
        ws = await websockets.connect(url)
        socket = cls(ws)
        assert (await socket.receive())["type"] == "connection.ready"
        await socket.send("subscribe", {"app_id": app_id}, "sub")
        while (reply := await socket.receive())["type"] != "subscribed":
            pass
        assert reply["id"] == "sub", reply
        return socket

    async def send(self, kind: str, data: dict[str, Any], request_id: str | None = None) -> None:
        message: dict[str, Any] = {"type": kind, "data": data}
        if request_id is not None:
            message["id"] = request_id
        await self.ws.send(json.dumps(message))

    async def receive(self, timeout: float = 10.0) -> dict[str, Any]:
        message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.messages.append(message)
        return dict(message)

    async def closed_within(self, timeout: float) -> SocketEnd:
        """Read until the server closes the socket; how, and how long it took."""
        started = time.monotonic()
        try:
            while True:
                await self.receive(timeout=timeout)
        except websockets.ConnectionClosed as closed:
            frame = closed.rcvd
            return SocketEnd(
                frame.code if frame else None,
                frame.reason if frame else "",
                time.monotonic() - started,
            )


@dataclass
class OpenStream:
    """An SSE stream of an app's events read in the background until it ends."""

    task: asyncio.Task[None]
    ready: asyncio.Event
    events: list[tuple[str, str]] = field(default_factory=list)  # (event type, data)
    ended_at: float | None = None

    @classmethod
    async def open(cls, server: LiveServer, headers: dict[str, str], app_id: str) -> OpenStream:
        ready = asyncio.Event()
        stream = cls(asyncio.create_task(asyncio.sleep(0)), ready)
        stream.task = asyncio.create_task(stream._read(server, headers, app_id))
        await asyncio.wait_for(ready.wait(), 10)
        return stream

    async def _read(self, server: LiveServer, headers: dict[str, str], app_id: str) -> None:
        url = f"{server.url}/apps/{app_id}/events"
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(30.0)) as client,
            client.stream("GET", url, headers={**headers, "Accept": "text/event-stream"}) as reply,
        ):
            assert reply.status_code == 200, await reply.aread()
            self.ready.set()
            kind = ""
            async for line in reply.aiter_lines():
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    self.events.append((kind, line.split(":", 1)[1].strip()))
        self.ended_at = time.monotonic()

    async def ended_within(self, timeout: float) -> float:
        """Wait for the server to end the stream; the seconds it took."""
        started = time.monotonic()
        await asyncio.wait_for(self.task, timeout)
        return time.monotonic() - started

    def error(self) -> dict[str, Any]:
        """The `error` event the stream ended with."""
        errors = [json.loads(data) for kind, data in self.events if kind == "error"]
        assert errors, f"no error event in {self.events}"
        return dict(errors[-1]["error"])
