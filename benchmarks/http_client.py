"""A lean HTTP/1.1 client on asyncio streams, the client side of `benchmarks/api.py`.

Why not httpx: on the 2-vCPU benchmark machine httpx's ``AsyncClient`` spends ~1.3 ms of CPU
per request with one connection and ~4 ms with 100 concurrent ones; against a bare FastAPI
route it cannot reach more than ~600 (one connection) or ~200 (100 connections) requests/s.
The client then is the bottleneck and takes a core away from the server it measures. This one
spends ~0.1-0.2 ms per request (~2,900 requests/s with 100 connections, same route).

Only what the benchmark needs: plain HTTP to one host and port, keep-alive connections
(a pool of at most ``connections``), JSON request bodies, responses framed by
``Content-Length``, chunked transfer encoding or the end of the connection, and bodies read
as they arrive (Server-Sent Events). No TLS, redirects, proxies, cookies or compression.
"""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

MAX_IDLE_SECONDS = 2.0  # uvicorn closes idle keep-alive connections after 5 s


class HttpError(RuntimeError):
    """A status >= 300, or a response that is not HTTP."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Head:
    status: int
    headers: dict[str, str]  # lower-case names


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.idle_since = time.monotonic()
        self.reusable = False

    async def send(self, request: bytes) -> Head:
        self.reusable = False
        self.writer.write(request)
        await self.writer.drain()
        line = await self.reader.readline()
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise HttpError(f"not an HTTP response: {line[:80]!r}")
        headers: dict[str, str] = {}
        for _ in range(200):
            raw = await self.reader.readline()
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            key, value = name.strip().lower(), value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return Head(int(parts[1]), headers)

    async def chunks(self, head: Head, method: str) -> AsyncGenerator[bytes, None]:
        """The body as it arrives; afterwards `reusable` says whether the connection is."""
        keep = "close" not in head.headers.get("connection", "").lower()
        if method == "HEAD" or head.status in (204, 304) or 100 <= head.status < 200:
            self.reusable = keep
            return
        if "chunked" in head.headers.get("transfer-encoding", "").lower():
            while True:
                size = int((await self.reader.readline()).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while (await self.reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                data = await self.reader.readexactly(size)
                await self.reader.readexactly(2)
                yield data
            self.reusable = keep
        elif "content-length" in head.headers:
            length = int(head.headers["content-length"])
            if length:
                yield await self.reader.readexactly(length)
            self.reusable = keep
        else:
            while data := await self.reader.read(65536):
                yield data

    def close(self) -> None:
        self.writer.close()


@dataclass
class Response:
    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.body) if self.body else None

    def ok(self) -> Any:
        """The JSON body (None when empty); HttpError for a status >= 300."""
        if self.status >= 300:
            text = self.body[:500].decode(errors="replace")
            raise HttpError(f"{self.method} {self.path} -> {self.status}: {text}", self.status)
        return self.json()


@dataclass
class Stream:
    """A response whose body is read with `chunks()` (see `Client.stream`)."""

    status: int
    headers: dict[str, str]
    _chunks: AsyncIterator[bytes]
    _timeout: float

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's pieces as they arrive (each read waits at most the read timeout)."""
        while True:
            try:
                async with asyncio.timeout(self._timeout):
                    data = await anext(self._chunks)
            except StopAsyncIteration:
                return
            yield data

    async def read(self) -> bytes:
        return b"".join([data async for data in self.chunks()])


class Client:
    """Keep-alive connections to `http://host:port`, at most `connections` at once."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        headers: Mapping[str, str] | None = None,
        connections: int = 1,
        timeout: float = 120.0,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.headers = dict(headers or {})
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[Connection] = []

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop().close()

    def _encode(
        self,
        method: str,
        path: str,
        json: Any,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
    ) -> bytes:
        target = f"{path}?{urlencode(params)}" if params else path
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in {**self.headers, **(headers or {})}.items()]
        body = b""
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":")).encode()
            lines.append("Content-Type: application/json")
        if json is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def _acquire(self) -> Connection:
        await self._slots.acquire()
        try:
            now = time.monotonic()
            while self._idle:
                conn = self._idle.pop()
                if now - conn.idle_since < MAX_IDLE_SECONDS:
                    return conn
                conn.close()
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port)
            return Connection(reader, writer)
        except BaseException:
            self._slots.release()
            raise

    def _release(self, conn: Connection) -> None:
        if conn.reusable:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()
        self._slots.release()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        conn = await self._acquire()
        try:
            async with asyncio.timeout(self.timeout):
                head = await conn.send(self._encode(method, path, json, params, headers))
                body = b"".join([data async for data in conn.chunks(head, method)])
        finally:
            self._release(conn)
        return Response(method, path, head.status, head.headers, body)

    async def fetch(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """The JSON answer of a request; HttpError for a status >= 300."""
        return (await self.request(method, path, json=json, params=params)).ok()

    @contextlib.asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        read_timeout: float = 60.0,
    ) -> AsyncIterator[Stream]:
        """A request whose answer's body is read as it arrives; the connection is reused only
        when the body was read to its end."""
        conn = await self._acquire()
        body: AsyncGenerator[bytes, None] | None = None
        try:
            async with asyncio.timeout(self.timeout):
                head = await conn.send(self._encode(method, path, json, params, headers))
            body = conn.chunks(head, method)
            yield Stream(head.status, head.headers, body, read_timeout)
        finally:
            if body is not None:
                await body.aclose()
            self._release(conn)
