"""A fake of HubSpot, SendGrid and Google Calendar on 127.0.0.1, for tests of the integrations.

One HTTP server (stdlib, in a thread) answers the paths of all three services the way the
real ones do, keeps what was created in memory, and records every request:

    with FakeService() as svc:
        credentials = svc.credentials("hubspot")   # {"access_token": ..., "base_url": ...}
        lookup = svc.credentials_lookup()           # async (service) -> credentials | None
        ctx = ToolContext(app_id="app_x", credentials_lookup=lookup)
        ...
        svc.requests        # [RecordedRequest], oldest first
        svc.last            # the newest RecordedRequest (AssertionError when none)
        svc.fail_next(401)  # the next request answers 401 in the service's error shape
        svc.fail_next(400, "from is required")     # ... with that message
        svc.fail_next(403, {"any": "json"})        # ... with exactly that JSON body
        svc.fail_next(500, times=3)                 # the next three requests
        svc.clear()         # forget the requests and the stored objects

Base URLs: `svc.base_url` (HubSpot, SendGrid) and `svc.google_calendar_base_url`
(`<base_url>/calendar/v3`, as the real one ends in /calendar/v3); `svc.credentials(service)`
has them, and `svc.credentials(service, **overrides)` changes or (with None) drops fields.
`FakeService(tokens={"hubspot": "secret"})` answers 401 to any other Bearer token for that
service (by default any Bearer token is accepted, and none is a 401).

A `RecordedRequest` has `method`, `path` (without the query, still percent-encoded),
`query` ({name: value}, decoded), `headers` ({lowercased name: value}), `body` (the parsed
JSON, or None) and `raw_body` (bytes); `request.header("Authorization")` reads one header.

Answers: HubSpot `POST /crm/v3/objects/contacts|deals` 201 {"id", "properties", ...};
`POST /crm/v3/objects/contacts/search` 200 {"total", "results"} (the stored contacts whose
properties contain the query); `GET /crm/v3/objects/contacts|deals?limit=` 200 {"results"}.
SendGrid `POST /v3/mail/send` 202, empty body, `X-Message-Id` header (`svc.sent` holds the
messages); `GET /v3/scopes` 200 {"scopes"}. Google `GET /calendar/v3/users/me/calendarList`
200; `POST /calendar/v3/calendars/{id}/events` 200 the event (id, htmlLink, status ...);
`GET /calendar/v3/calendars/{id}/events` 200 {"items"} (`svc.events` holds them). Errors:
HubSpot {"status": "error", "message", "category"}, SendGrid {"errors": [{"message"}]},
Google {"error": {"code", "message", "errors", "status"}}; an unknown path is a 404.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

GOOGLE_PREFIX = "/calendar/v3"


@dataclass(slots=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    raw_body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(slots=True)
class _Failure:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass(slots=True)
class _Answer:
    status: int
    body: Any = None  # JSON, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)


def service_of(path: str) -> str:
    """Which service a path belongs to."""
    if path.startswith("/crm/"):
        return "hubspot"
    if path.startswith("/v3/"):
        return "sendgrid"
    return "google_calendar"


def error_body(service: str, status: int, message: str) -> dict[str, Any]:
    """An error body shaped like the service's own."""
    if service == "hubspot":
        category = {401: "INVALID_AUTHENTICATION", 403: "MISSING_SCOPES", 404: "OBJECT_NOT_FOUND"}
        return {
            "status": "error",
            "message": message,
            "correlationId": "3b8f6a2e-0000-4000-8000-000000000000",
            "category": category.get(status, "VALIDATION_ERROR"),
        }
    if service == "sendgrid":
        return {"errors": [{"message": message, "field": None, "help": None}]}
    reason = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": "error"}],
            "status": reason.get(status, "INVALID_ARGUMENT"),
        }
    }


class FakeService:
    """HubSpot, SendGrid and Google Calendar, faked on 127.0.0.1 (see the module's doc)."""

    def __init__(self, tokens: dict[str, str] | None = None) -> None:
        self.tokens = dict(tokens or {})
        self.requests: list[RecordedRequest] = []
        self.contacts: list[dict[str, Any]] = []
        self.deals: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.events: dict[str, list[dict[str, Any]]] = {}
        self._failures: list[_Failure] = []
        self._ids = itertools.count(1001)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---

    def start(self) -> FakeService:
        if self._server is not None:
            return self
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

            def do_PATCH(self) -> None:
                fake._handle(self)

            def do_PUT(self) -> None:
                fake._handle(self)

            def do_DELETE(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeService:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- what tests use ---

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake service is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def google_calendar_base_url(self) -> str:
        return f"{self.base_url}{GOOGLE_PREFIX}"

    @property
    def last(self) -> RecordedRequest:
        with self._lock:
            assert self.requests, "the fake service received no request"
            return self.requests[-1]

    def credentials(self, service: str, **overrides: Any) -> dict[str, Any]:
        """Working credentials for a service, pointing at this fake."""
        token = self.tokens.get(service, f"test-{service}-token")
        made: dict[str, Any]
        if service == "hubspot":
            made = {"access_token": token, "base_url": self.base_url}
        elif service == "sendgrid":
            made = {
                "api_key": token,
                "from_email": "agent@example.com",
                "base_url": self.base_url,
            }
        elif service == "google_calendar":
            made = {
                "access_token": token,
                "calendar_id": "primary",
                "base_url": self.google_calendar_base_url,
            }
        else:
            raise ValueError(f"unknown service {service!r}")
        made.update(overrides)
        return {k: v for k, v in made.items() if v is not None}

    def credentials_lookup(
        self, services: tuple[str, ...] = ("hubspot", "sendgrid", "google_calendar")
    ) -> Callable[[str], Awaitable[dict[str, Any] | None]]:
        """A `ToolContext.credentials_lookup` giving this fake's credentials to `services`."""

        async def lookup(service: str) -> dict[str, Any] | None:
            return self.credentials(service) if service in services else None

        return lookup

    def fail_next(
        self,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` requests answer `status`: with the service's error shape (its
        message `body` when a string, the status's phrase when None), or `body` as JSON."""
        with self._lock:
            for _ in range(times):
                self._failures.append(_Failure(status, body, dict(headers or {})))

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.contacts.clear()
            self.deals.clear()
            self.sent.clear()
            self.events.clear()
            self._failures.clear()

    # --- serving ---

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        parts = urlsplit(handler.path)
        request = RecordedRequest(
            method=handler.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
            raw_body=raw,
        )
        with self._lock:
            self.requests.append(request)
            failure = self._failures.pop(0) if self._failures else None
            answer = self._answer(request, failure)
        self._write(handler, answer)

    def _write(self, handler: BaseHTTPRequestHandler, answer: _Answer) -> None:
        payload = b"" if answer.body is None else json.dumps(answer.body).encode()
        handler.send_response(answer.status)
        if answer.body is not None:
            handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if payload:
            handler.wfile.write(payload)

    def _error(self, service: str, status: int, message: str | None = None) -> _Answer:
        text = message or HTTPStatus(status).phrase
        return _Answer(status, error_body(service, status, text))

    def _answer(self, request: RecordedRequest, failure: _Failure | None) -> _Answer:
        service = service_of(request.path)
        if failure is not None:
            if failure.body is None or isinstance(failure.body, str):
                answer = self._error(service, failure.status, failure.body)
            else:
                answer = _Answer(failure.status, failure.body)
            answer.headers.update(failure.headers)
            return answer
        auth = request.header("Authorization") or ""
        if not auth.startswith("Bearer ") or not auth[len("Bearer ") :].strip():
            return self._error(service, 401, _NO_AUTH[service])
        expected = self.tokens.get(service)
        if expected is not None and auth[len("Bearer ") :] != expected:
            return self._error(service, 401, _BAD_AUTH[service])
        if service == "hubspot":
            return self._hubspot(request)
        if service == "sendgrid":
            return self._sendgrid(request)
        return self._google(request)

    def _hubspot(self, request: RecordedRequest) -> _Answer:
        method, path = request.method, request.path
        stores = {"contacts": self.contacts, "deals": self.deals}
        for kind, store in stores.items():
            base = f"/crm/v3/objects/{kind}"
            if path == base and method == "POST":
                properties = (request.body or {}).get("properties")
                if not isinstance(properties, dict):
                    return self._error("hubspot", 400, "Invalid input JSON: no properties")
                record = _hubspot_record(str(next(self._ids)), properties)
                store.append(record)
                return _Answer(201, record)
            if path == base and method == "GET":
                limit = int(request.query.get("limit", "10"))
                return _Answer(200, {"results": store[:limit]})
        if path == "/crm/v3/objects/contacts/search" and method == "POST":
            query = str((request.body or {}).get("query", "")).lower()
            limit = int((request.body or {}).get("limit", 10))
            found = [
                c
                for c in self.contacts
                if any(query in str(v).lower() for v in c["properties"].values())
            ]
            return _Answer(200, {"total": len(found), "results": found[:limit]})
        return self._error("hubspot", 404, f"Unable to route {method} request: {path}")

    def _sendgrid(self, request: RecordedRequest) -> _Answer:
        if request.path == "/v3/mail/send" and request.method == "POST":
            body = request.body if isinstance(request.body, dict) else {}
            if not (body.get("from") or {}).get("email"):
                return self._error("sendgrid", 400, "The from object must be provided.")
            message_id = f"fake-{next(self._ids)}"
            self.sent.append({**body, "message_id": message_id})
            return _Answer(202, None, {"X-Message-Id": message_id})
        if request.path == "/v3/scopes" and request.method == "GET":
            return _Answer(200, {"scopes": ["mail.send", "scopes.read"]})
        return self._error("sendgrid", 404, "resource not found")

    def _google(self, request: RecordedRequest) -> _Answer:
        path = request.path
        if not path.startswith(GOOGLE_PREFIX + "/"):
            return self._error("google_calendar", 404, "Not Found")
        rest = path[len(GOOGLE_PREFIX) :]
        if rest == "/users/me/calendarList" and request.method == "GET":
            calendar = {"kind": "calendar#calendarListEntry", "id": "me@example.com"}
            return _Answer(200, {"kind": "calendar#calendarList", "items": [calendar]})
        segments = rest.strip("/").split("/")
        if len(segments) == 3 and segments[0] == "calendars" and segments[2] == "events":
            calendar_id = unquote(segments[1])
            events = self.events.setdefault(calendar_id, [])
            if request.method == "POST":
                body = request.body if isinstance(request.body, dict) else {}
                if "start" not in body or "end" not in body:
                    return self._error("google_calendar", 400, "Missing end time.")
                event_id = f"evt{next(self._ids)}"
                event = {
                    "kind": "calendar#event",
                    "etag": '"3181161784712000"',
                    "id": event_id,
                    "status": "confirmed",
                    "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
                    "created": "2025-01-01T00:00:00.000Z",
                    "updated": "2025-01-01T00:00:00.000Z",
                    "creator": {"email": "me@example.com", "self": True},
                    "organizer": {"email": calendar_id, "self": True},
                    **body,
                }
                if "attendees" in body:
                    event["attendees"] = [
                        {**a, "responseStatus": "needsAction"} for a in body["attendees"]
                    ]
                events.append(event)
                return _Answer(200, event)
            if request.method == "GET":
                limit = int(request.query.get("maxResults", "250"))
                listed = {"kind": "calendar#events", "summary": calendar_id}
                return _Answer(200, {**listed, "items": events[:limit]})
        return self._error("google_calendar", 404, "Not Found")


def _hubspot_record(record_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    stamp = "2025-01-01T00:00:00.000Z"
    return {
        "id": record_id,
        "properties": {
            **{k: None if v is None else str(v) for k, v in properties.items()},
            "createdate": stamp,
            "hs_object_id": record_id,
            "lastmodifieddate": stamp,
        },
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
    }


_NO_AUTH = {
    "hubspot": "Authentication credentials not found.",
    "sendgrid": "authorization required",
    "google_calendar": "Request is missing required authentication credential.",
}
_BAD_AUTH = {
    "hubspot": "The OAuth token used to make this call expired or is invalid.",
    "sendgrid": "The provided authorization grant is invalid, expired, or revoked",
    "google_calendar": "Request had invalid authentication credentials.",
}
