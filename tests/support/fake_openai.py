"""A fake OpenAI server: real HTTP on 127.0.0.1, speaking the chat-completions wire protocol.

Not a mock of the SDK: the `openai` SDK (or anything else) talks to it over a socket, so
what is tested is the bytes on the wire. It runs in a background thread::

    with FakeOpenAI() as server:                    # api_key="sk-test" by default
        server.reply_text("Hello world")            # next completion streams "Hello ", "world"
        config = ProviderConfig("openai", "openai", server.base_url, server.api_key)
        ...
        assert server.count == 1                    # completion requests received
        assert server.requests[0].body["model"] == "gpt-4o-mini"

API (the same on `FakeAnthropic`, in support.fake_anthropic):

- `base_url`: `http://127.0.0.1:<port>/v1` (for Anthropic the root, without `/v1`);
  `FakeOpenAI(root_path="/api/paas/v4")` serves the API under another path, as some
  OpenAI-compatible services do.
- `api_key`: the key it expects (`Authorization: Bearer <key>`); `None` accepts any or no
  key, as Ollama does. A wrong key answers 401 (and still counts as a request).
- `requests`: the completion requests received, oldest first, each a `Received` with
  `.path`, `.headers` (names lowercased) and `.body` (the parsed JSON).
- `count`: `len(requests)`, the number of completion requests (LLM calls) received.
- `health_count`: the number of `GET /v1/models` requests received.
- Scripted replies, used in order, one per completion request:
  - `reply_text(text, *, usage=None, break_after=None)`: streams the text in word-sized
    deltas (`"Hello world"` → `"Hello "`, `"world"`). `usage=(prompt, completion)` sets the
    token counts (default: words of the request's messages, number of deltas).
    `break_after=n` drops the connection after n deltas, mid-stream.
  - `reply_tool_calls([(name, arguments), ...], *, text="")`: one answer calling the
    tools; `arguments` is a dict (sent as JSON) or a raw string. Arguments are streamed in
    several pieces. Call ids are `call_1`, `call_2`, … in the order replied.
  - `reply_error(status, message)`: answers `status` with the provider's JSON error body.
  - `reply_hang(seconds=30.0)`: reads the request and answers nothing for `seconds` (or
    until the server closes): for timeout tests.
- With no scripted reply left, a completion answers the plain text "ok".
- `models`: the model ids `GET /v1/models` lists.

`close()` (or leaving the `with` block) stops the server, wakes hanging replies and closes
every connection.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn

_WORDS = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the server got it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    usage: tuple[int, int] | None = None
    break_after: int | None = None


@dataclass(frozen=True, slots=True)
class ToolCalls:
    calls: list[tuple[str, str]]
    text: str = ""


@dataclass(frozen=True, slots=True)
class Error:
    status: int
    message: str
    in_stream: bool = False


@dataclass(frozen=True, slots=True)
class Hang:
    seconds: float


Reply = Text | ToolCalls | Error | Hang


def pieces(text: str) -> list[str]:
    """The deltas a text is streamed in: words with their trailing spaces."""
    return _WORDS.findall(text)


def split_arguments(arguments: str, parts: int = 3) -> list[str]:
    """A JSON text cut into (up to) `parts` pieces, as models stream them."""
    if not arguments:
        return [""]
    size = max(1, -(-len(arguments) // parts))
    return [arguments[i : i + size] for i in range(0, len(arguments), size)]


def words_in(body: dict[str, Any]) -> int:
    """A deterministic prompt-token count: the words of the request's messages' text."""
    total = 0
    system = body.get("system")
    if isinstance(system, str):
        total += len(system.split())
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            total += len(content.split())
        elif isinstance(content, list):
            for block in content:
                text = block.get("text") or block.get("content")
                if isinstance(text, str):
                    total += len(text.split())
    return total


class Dropped(Exception):
    """The reply drops its connection on purpose (`break_after`)."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (Dropped, OSError):
            # A reply dropped its connection on purpose, or the client went away (it timed
            # out, or the server is closing).
            self.close_connection = True

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.fake._untrack(self.connection)

    def do_GET(self) -> None:
        self.server.fake.handle_get(self)

    def do_POST(self) -> None:
        self.server.fake.handle_post(self)

    # -- writing helpers ------------------------------------------------------------------

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def start_stream(self, headers: dict[str, str] | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.flush()

    def send_chunk(self, data: str) -> None:
        raw = data.encode()
        self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
        self.wfile.flush()

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def drop(self) -> NoReturn:
        """Cut the connection mid-response (no terminating chunk)."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise Dropped

    def read_json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            data = {"_raw": raw.decode(errors="replace")}
        return data if isinstance(data, dict) else {"_json": data}

    def header_map(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: FakeServer) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.fake._track(request)
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (timeout test, dropped stream) is expected; stay quiet.
        pass


class FakeServer:
    """What both fakes share: the thread, the script of replies and the record of requests."""

    root_path = ""

    def __init__(self, api_key: str | None, models: list[str]) -> None:
        self.api_key = api_key
        self.models = list(models)
        self.requests: list[Received] = []
        self.health_count = 0
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server = HTTPServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()

    # -- the public API -------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.root_path}"

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def reply_text(
        self,
        text: str,
        *,
        usage: tuple[int, int] | None = None,
        break_after: int | None = None,
    ) -> None:
        self._push(Text(text, usage, break_after))

    def reply_tool_calls(
        self, calls: list[tuple[str, dict[str, Any] | str]], *, text: str = ""
    ) -> None:
        encoded = [
            (name, args if isinstance(args, str) else json.dumps(args)) for name, args in calls
        ]
        self._push(ToolCalls(encoded, text))

    def reply_error(self, status: int, message: str) -> None:
        self._push(Error(status, message))

    def reply_hang(self, seconds: float = 30.0) -> None:
        self._push(Hang(seconds))

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(timeout=5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with self._lock:
                if not self._connections:
                    break
            time.sleep(0.01)

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- for the handlers -----------------------------------------------------------------

    def _push(self, reply: Reply) -> None:
        with self._lock:
            self._replies.append(reply)

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._replies.popleft() if self._replies else Text("ok")

    def _record(self, received: Received) -> int:
        with self._lock:
            self.requests.append(received)
            return len(self.requests)

    def _track(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _hang(self, seconds: float) -> None:
        self._closing.wait(seconds)

    def handle_get(self, handler: Handler) -> None:
        raise NotImplementedError

    def handle_post(self, handler: Handler) -> None:
        raise NotImplementedError


class FakeOpenAI(FakeServer):
    """The OpenAI chat-completions API: `POST /v1/chat/completions` (streamed or not) and
    `GET /v1/models`. See the module docstring."""

    root_path = "/v1"

    def __init__(
        self,
        api_key: str | None = "sk-test",
        models: list[str] | None = None,
        root_path: str = "/v1",
    ) -> None:
        self.root_path = root_path  # where the API lives: `/api/paas/v4` for GLM, say
        super().__init__(api_key, models or ["gpt-4o-mini"])
        self._call_ids = 0

    def __enter__(self) -> FakeOpenAI:
        return self

    def _authorized(self, handler: Handler) -> bool:
        if self.api_key is None:
            return True
        if handler.headers.get("Authorization") == f"Bearer {self.api_key}":
            return True
        given = handler.headers.get("Authorization") or ""
        shown = given.removeprefix("Bearer ")[-4:] if given else ""
        message = (
            "You didn't provide an API key."
            if not given
            else f"Incorrect API key provided: ...{shown}."
        )
        handler.send_json(
            401,
            {
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            },
        )
        return False

    def handle_get(self, handler: Handler) -> None:
        if handler.path.split("?")[0] != f"{self.root_path}/models":
            handler.send_json(404, _openai_error(404, f"Unknown path {handler.path}"))
            return
        with self._lock:
            self.health_count += 1
        if not self._authorized(handler):
            return
        handler.send_json(
            200,
            {
                "object": "list",
                "data": [
                    {"id": model, "object": "model", "created": 1700000000, "owned_by": "fake"}
                    for model in self.models
                ],
            },
        )

    def handle_post(self, handler: Handler) -> None:
        body = handler.read_json()
        if handler.path.split("?")[0] != f"{self.root_path}/chat/completions":
            handler.send_json(404, _openai_error(404, f"Unknown path {handler.path}"))
            return
        self._record(Received(handler.path, handler.header_map(), body))
        if not self._authorized(handler):
            return
        reply = self._next_reply()
        if isinstance(reply, Hang):
            self._hang(reply.seconds)
            handler.drop()
        if isinstance(reply, Error):
            handler.send_json(reply.status, _openai_error(reply.status, reply.message))
            return
        model = str(body.get("model") or "gpt-4o-mini")
        if body.get("stream"):
            self._stream(handler, body, model, reply)
        else:
            self._whole(handler, body, model, reply)

    def _ids(self, count: int) -> list[str]:
        with self._lock:
            start = self._call_ids
            self._call_ids += count
        return [f"call_{start + i + 1}" for i in range(count)]

    def _stream(
        self, handler: Handler, body: dict[str, Any], model: str, reply: Text | ToolCalls
    ) -> None:
        created = int(time.time())
        completion_id = f"chatcmpl-fake{self.count}"

        def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
            payload = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            if (body.get("stream_options") or {}).get("include_usage"):
                payload["usage"] = None
            handler.send_chunk(f"data: {json.dumps(payload)}\n\n")

        handler.start_stream()
        chunk({"role": "assistant", "content": "", "refusal": None})
        text = reply.text
        deltas = pieces(text)
        for number, piece in enumerate(deltas, 1):
            chunk({"content": piece})
            if isinstance(reply, Text) and reply.break_after == number:
                handler.drop()
        output = len(deltas)
        finish = "stop"
        if isinstance(reply, ToolCalls):
            finish = "tool_calls"
            for index, ((name, arguments), call_id) in enumerate(
                zip(reply.calls, self._ids(len(reply.calls)), strict=True)
            ):
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": call_id,
                                "type": "function",
                                "function": {"name": name, "arguments": ""},
                            }
                        ]
                    }
                )
                for part in split_arguments(arguments):
                    chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
                    output += 1
        chunk({}, finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            prompt, completion = (
                reply.usage
                if isinstance(reply, Text) and reply.usage is not None
                else (words_in(body), output)
            )
            usage = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
            handler.send_chunk(f"data: {json.dumps(usage)}\n\n")
        handler.send_chunk("data: [DONE]\n\n")
        handler.end_stream()

    def _whole(
        self, handler: Handler, body: dict[str, Any], model: str, reply: Text | ToolCalls
    ) -> None:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        finish = "stop"
        output = len(pieces(reply.text))
        if isinstance(reply, ToolCalls):
            finish = "tool_calls"
            message["tool_calls"] = [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
                for (name, args), call_id in zip(
                    reply.calls, self._ids(len(reply.calls)), strict=True
                )
            ]
            output += sum(len(split_arguments(args)) for _, args in reply.calls)
        prompt, completion = (
            reply.usage
            if isinstance(reply, Text) and reply.usage is not None
            else (words_in(body), output)
        )
        handler.send_json(
            200,
            {
                "id": f"chatcmpl-fake{self.count}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            },
        )


def _openai_error(status: int, message: str) -> dict[str, Any]:
    kind = {
        400: "invalid_request_error",
        401: "invalid_request_error",
        404: "invalid_request_error",
        429: "rate_limit_exceeded",
    }.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


if __name__ == "__main__":  # pragma: no cover
    with FakeOpenAI() as server:
        print(f"fake OpenAI at {server.base_url} (key {server.api_key}); Ctrl-C stops")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
