"""Every request body passes here before a route sees it.

- A JSON body passes the one JSON boundary (`podium.jsonvalue`): nested too deep, a NUL
  character, NaN/Infinity or an over-long string or key is answered 422 `json_invalid` and
  nothing runs, so nothing is stored.
- A body in another content type, or in none, is answered 415 `unsupported_media_type`
  naming the header to send (every body of this API is JSON): without it FastAPI would read
  the bytes as a string and answer "Input should be a valid dictionary".
- The routes listed as `yaml_paths` (POST /apps/{app_id}/flows) also read YAML
  (`application/yaml`, `text/yaml`, …): it is parsed here (no aliases; bad YAML is 422 with
  the parser's line and column) and handed on as JSON, so it is validated exactly as JSON.
  YAML sent there as JSON gets a message that says which Content-Type to use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import yaml
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium import jsonvalue
from podium.api.errors import envelope
from podium.errors import JSONValueInvalid
from podium.jsonvalue import JSONLimits

BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
YAML_MEDIA = (b"application/yaml", b"application/x-yaml", b"text/yaml", b"text/x-yaml")
SEND_JSON = "Content-Type: application/json"


def is_json_media(content_type: bytes) -> bool:
    """Whether a Content-Type is one FastAPI decodes as JSON: application/json or
    application/*+json (e.g. application/merge-patch+json)."""
    media = _media(content_type)
    if not media.startswith(b"application/"):
        return False
    subtype = media[len(b"application/") :]
    return subtype == b"json" or subtype.endswith(b"+json")


def is_yaml_media(content_type: bytes) -> bool:
    return _media(content_type) in YAML_MEDIA


def _media(content_type: bytes) -> bytes:
    return content_type.split(b";", 1)[0].strip().lower()


class YAMLInvalid(Exception):
    """YAML that cannot be read: `message` says where (line and column, from 1)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.details = {} if line is None else {"line": line, "column": column}


class _NoAliases(yaml.SafeLoader):
    """YAML's safe subset without aliases (`*name`): an alias repeats a node by reference,
    so a small document could stand for an exponentially large JSON value."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(
                problem="aliases (*name) are not accepted; write the value out",
                problem_mark=mark,
            )
        return super().compose_node(parent, index)


def read_yaml(body: bytes, what: str = "the request body") -> Any:
    """The value of a YAML document; YAMLInvalid with the line and column of a problem."""
    try:
        return yaml.load(body, Loader=_NoAliases)  # a SafeLoader, without aliases
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "not valid YAML"
        if mark is None:
            raise YAMLInvalid(f"{what} is not valid YAML: {problem}") from None
        line, column = mark.line + 1, mark.column + 1
        raise YAMLInvalid(
            f"{what} is not valid YAML (line {line}, column {column}: {problem})", line, column
        ) from None
    except yaml.YAMLError as exc:
        raise YAMLInvalid(f"{what} is not valid YAML: {exc}") from None
    except RecursionError:
        raise YAMLInvalid(f"{what}: YAML nested too deep") from None


class JSONBodyMiddleware:
    """Reads a request body whole (BodyLimitMiddleware, outside this one, bounds its size),
    refuses one that is not JSON (415), turns YAML into JSON on the `yaml_paths`, checks it
    with `jsonvalue.loads`, and hands the same (or the converted) bytes to the app."""

    def __init__(
        self,
        app: ASGIApp,
        limits: JSONLimits | None = None,
        yaml_paths: Sequence[re.Pattern[str]] = (),
    ) -> None:
        self.app = app
        self.limits = limits
        self.yaml_paths = tuple(yaml_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        body, ended = await _read(receive)
        if ended is not None:  # the client went away
            await self.app(scope, _replay([ended], receive), send)
            return
        content_type = _header(scope, b"content-type")
        yaml_route = scope.get("method") == "POST" and any(
            pattern.fullmatch(scope.get("path", "")) for pattern in self.yaml_paths
        )
        if body and content_type is not None and is_yaml_media(content_type) and yaml_route:
            try:
                body = self._yaml_as_json(body)
            except (YAMLInvalid, JSONValueInvalid) as exc:
                code = "invalid_input" if isinstance(exc, YAMLInvalid) else exc.code
                await envelope(422, code, exc.message, exc.details)(scope, receive, send)
                return
            scope = _with_json_type(scope, len(body))
        elif body and (content_type is None or not is_json_media(content_type)):
            message = _unsupported(content_type, yaml_route)
            details = {"accepted": ["application/json", *(["application/yaml"] * yaml_route)]}
            response = envelope(415, "unsupported_media_type", message, details)
            await response(scope, receive, send)
            return
        if body:
            try:
                jsonvalue.loads(body, "the request body", self.limits)
            except JSONValueInvalid as exc:
                message = exc.message
                if yaml_route and _looks_like_yaml(body):
                    message += (
                        "; it looks like YAML: send YAML with the header "
                        "Content-Type: application/yaml"
                    )
                await envelope(422, exc.code, message, exc.details)(scope, receive, send)
                return
        request: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([request], receive), send)

    def _yaml_as_json(self, body: bytes) -> bytes:
        value = read_yaml(body)
        # YAML's dates and times become their ISO text; NaN and infinities are refused by the
        # JSON boundary after this, as in JSON.
        return json.dumps(value, default=_iso, ensure_ascii=False).encode()


def _unsupported(content_type: bytes | None, yaml_route: bool) -> str:
    got = (
        "no Content-Type"
        if content_type is None
        else f"Content-Type {_media(content_type).decode('latin-1')!r}"
    )
    if yaml_route:
        return (
            f"this route reads JSON or YAML, and the request had {got}: send the header "
            f"{SEND_JSON} (with curl: -H '{SEND_JSON}'; curl -d alone sends "
            "application/x-www-form-urlencoded), or Content-Type: application/yaml for YAML"
        )
    if content_type is not None and is_yaml_media(content_type):
        return (
            f"this route reads JSON, and the request had {got}: send JSON with the header "
            f"{SEND_JSON} (only POST /api/v1/apps/{{app_id}}/flows reads YAML)"
        )
    return (
        f"this route reads JSON, and the request had {got}: send the header {SEND_JSON} "
        f"(with curl: -H '{SEND_JSON}'; curl -d alone sends application/x-www-form-urlencoded)"
    )


def _looks_like_yaml(body: bytes) -> bool:
    try:
        return isinstance(read_yaml(body), dict)
    except YAMLInvalid:
        return False


def _iso(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise TypeError(f"{type(value).__name__} is not JSON")


async def _read(receive: Receive) -> tuple[bytes, Message | None]:
    """The whole body, or what came and the message that ended the request early."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return bytes(value)
    return None


def _with_json_type(scope: Scope, length: int) -> Scope:
    headers = [
        (name, value)
        for name, value in scope.get("headers", [])
        if name not in (b"content-type", b"content-length")
    ]
    headers += [(b"content-type", b"application/json"), (b"content-length", str(length).encode())]
    return {**scope, "headers": headers}


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that gives `messages` first, then the real ones (a disconnect the app
    waits for still arrives)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
