"""A plain HTTP listener on 127.0.0.1 that stands for an internal service an attacker aims at:
it records every request (path, Host, Authorization) and answers `status` with `body`, or a
redirect to `redirect_to` when set.

    with Listener(status=401, body="internal secret") as target:
        ...  # aim something at target.url
        assert target.requests == []
"""

from __future__ import annotations

import http.server
import socket
import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    host: str
    authorization: str | None


class Listener:
    def __init__(
        self, status: int = 200, body: str = "internal secret", redirect_to: str | None = None
    ) -> None:
        self.status, self.body, self.redirect_to = status, body, redirect_to
        self.requests: list[Seen] = []
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                listener.requests.append(
                    Seen(
                        self.command,
                        self.path,
                        self.headers.get("Host", ""),
                        self.headers.get("Authorization"),
                    )
                )
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if self.path.startswith("/redirect?to="):
                    self._redirect(self.path.removeprefix("/redirect?to="))
                    return
                if listener.redirect_to is not None:
                    self._redirect(listener.redirect_to)
                    return
                data = listener.body.encode()
                self.send_response(listener.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _redirect(self, location: str) -> None:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (just released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
