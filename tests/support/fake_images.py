"""A fake Fireworks-style image server: real HTTP on 127.0.0.1 speaking the Flux
text-to-image API (`POST /inference/v1/workflows/accounts/fireworks/models/<model>/
text_to_image`), in a background thread::

    with FakeImages() as server:                   # api_key="fw-test"
        server.reply_image(b"\\xff\\xd8jpeg")         # the next answer: the image's bytes
        server.reply_json({"base64": ["data:image/png;base64,…"], "seed": 3})
        server.reply_error(503)                    # an error answer with a JSON body
        ...
        assert server.requests[0].body["prompt"] == "a fox"

With no scripted reply left it answers a tiny JPEG. A wrong or missing key answers 401.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TINY_JPEG = b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"
ROOT = "/inference/v1"


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    content_type: str


class FakeImages:
    def __init__(self, api_key: str | None = "fw-test") -> None:
        self.api_key = api_key
        self.requests: list[Received] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    fake.requests.append(Received(self.path, headers, body))
                    reply = fake._replies.popleft() if fake._replies else None
                if fake.api_key is not None and headers.get("authorization") != (
                    f"Bearer {fake.api_key}"
                ):
                    reply = _error(401, "invalid api key")
                elif not self.path.startswith(f"{ROOT}/workflows/accounts/fireworks/models/"):
                    reply = _error(404, f"unknown path {self.path}")
                if reply is None:
                    reply = Reply(200, TINY_JPEG, "image/jpeg")
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{ROOT}"

    def reply_image(self, data: bytes, content_type: str = "image/jpeg") -> None:
        self._replies.append(Reply(200, data, content_type))

    def reply_json(self, answer: Any) -> None:
        self._replies.append(Reply(200, json.dumps(answer).encode(), "application/json"))

    def reply_error(self, status: int, message: str = "the server says no") -> None:
        self._replies.append(_error(status, message))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeImages:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _error(status: int, message: str) -> Reply:
    body = json.dumps({"error": {"message": message, "code": status}}).encode()
    return Reply(status, body, "application/json")
