"""What the sync and the async client share and does no I/O: URLs, parameters, parsing an
answer, its error, and the messages of a streamed chat turn."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, TypeAdapter

from podium.client.endpoints import Endpoint
from podium.client.errors import APIError
from podium.client.models import EventPublic

API_PREFIX = "/api/v1"
# What `wait_for` waits for by default: the run ended, or it needs a person.
WAIT_STATUSES = frozenset({"succeeded", "failed", "cancelled", "interrupted"})
RUN_ENDED = frozenset({"run.succeeded", "run.failed", "run.cancelled"})
# Answers worth reconnecting through: the server restarting, or a proxy in front of it.
RETRYABLE_STATUS = frozenset({502, 503, 504})
SERVER_PING_SECONDS = 15  # the server's SSE keep-alive; a silent stream past 3 of them is dead


def api_base(server: str) -> str:
    """`http://host:8000` (or `…/api/v1`) → `http://host:8000/api/v1`."""
    url = server.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"the server is an http:// or https:// URL, not {server!r}")
    return url if url.endswith(API_PREFIX) else url + API_PREFIX


def clean_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Query parameters without the ones left out (None)."""
    return {k: v for k, v in (params or {}).items() if v is not None}


def body_json(body: BaseModel) -> Any:
    """A request model as the JSON the server reads (only the fields the caller set)."""
    return body.model_dump(mode="json", exclude_unset=True, by_alias=True)


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def parse(endpoint: Endpoint, response: httpx.Response) -> Any:
    """The answer as the endpoint's model (None for an endpoint that answers nothing)."""
    if endpoint.response is None:
        return None
    adapter = _ADAPTERS.get(endpoint.response)
    if adapter is None:
        adapter = _ADAPTERS[endpoint.response] = TypeAdapter(endpoint.response)
    return adapter.validate_json(response.content)


def error_of(response: httpx.Response) -> APIError:
    """The exception for an error answer (its body already read)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    return APIError.of(response.status_code, body, response.text)


def stream_error(data: str) -> APIError:
    """The `error` event that ends a stream whose caller lost access (a 403's envelope)."""
    try:
        body = json.loads(data)
    except ValueError:
        body = None
    return APIError.of(403, body, data)


@dataclass(frozen=True)
class ChatEvent:
    """One message of a streamed chat turn: `chat.started` and `done` (`data` is
    `{session_id, run_id[, status]}`), or an event of the turn (`event` is it, and `data` its
    data): `message.delta` (`data["delta"]`: tokens), `message.created`, `tool.called`, …"""

    type: str
    data: dict[str, Any]
    event: EventPublic | None = None

    @classmethod
    def of(cls, name: str, data: str) -> ChatEvent:
        if name in ("chat.started", "done"):
            return cls(name, json.loads(data))
        event = EventPublic.model_validate_json(data)
        return cls(event.type, event.data, event)
