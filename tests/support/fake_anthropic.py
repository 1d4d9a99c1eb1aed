"""A fake Anthropic server: real HTTP on 127.0.0.1, speaking the Messages API wire protocol.

The same API as `FakeOpenAI` (see support.fake_openai), for `POST /v1/messages`::

    with FakeAnthropic() as server:                  # api_key="sk-ant-test" by default
        server.reply_text("Hello world")
        config = ProviderConfig("anthropic", "anthropic", server.base_url, server.api_key)

- `base_url` is the root (`http://127.0.0.1:<port>`): the SDK adds `/v1/messages`.
- Every request must carry `x-api-key: <api_key>` (401 `authentication_error` otherwise;
  `api_key=None` accepts any) and an `anthropic-version` header (400 otherwise).
- A streamed answer is the event sequence of Anthropic's streaming docs: `message_start`,
  then per content block `content_block_start`, `content_block_delta`… (`text_delta`, or
  `input_json_delta` for a `tool_use` block), `content_block_stop`, with a `ping`, then
  `message_delta` (stop_reason, output usage) and `message_stop`.
- `reply_text`, `reply_tool_calls`, `reply_error`, `reply_hang`, `requests`, `count`,
  `health_count`, `models` as on `FakeOpenAI`; tool-use ids are `toolu_1`, `toolu_2`, ….
  `reply_error(status, message)` answers the `{"type": "error", "error": {"type": …,
  "message": …}}` body with the error type Anthropic uses for that status (529 is
  `overloaded_error`). With `in_stream=True` it answers 200 and sends `message_start`
  then an `error` event with that body, as Anthropic does when it fails mid-stream.
- With no scripted reply left, a message answers the plain text "ok".
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any

from support.fake_openai import (
    Error,
    FakeServer,
    Handler,
    Hang,
    Received,
    Text,
    ToolCalls,
    pieces,
    split_arguments,
    words_in,
)

__all__ = ["FakeAnthropic", "Received"]

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_body(status: int, message: str) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


class FakeAnthropic(FakeServer):
    """The Anthropic Messages API: `POST /v1/messages` (streamed or not) and
    `GET /v1/models`. See the module docstring."""

    root_path = ""

    def __init__(
        self, api_key: str | None = "sk-ant-test", models: list[str] | None = None
    ) -> None:
        super().__init__(api_key, models or ["claude-test"])
        self._tool_ids = 0
        self._message_ids = 0

    def __enter__(self) -> FakeAnthropic:
        return self

    def reply_error(self, status: int, message: str, *, in_stream: bool = False) -> None:
        self._push(Error(status, message, in_stream))

    def _headers_ok(self, handler: Handler) -> bool:
        given = handler.headers.get("x-api-key")
        if self.api_key is not None and given != self.api_key:
            handler.send_json(
                401,
                error_body(401, "invalid x-api-key" if given else "x-api-key header is required"),
                {"request-id": "req_fake"},
            )
            return False
        if not handler.headers.get("anthropic-version"):
            handler.send_json(
                400,
                error_body(400, "anthropic-version: header is required"),
                {"request-id": "req_fake"},
            )
            return False
        return True

    def handle_get(self, handler: Handler) -> None:
        if handler.path.split("?")[0] != "/v1/models":
            handler.send_json(404, error_body(404, f"Not found: {handler.path}"))
            return
        with self._lock:
            self.health_count += 1
        if not self._headers_ok(handler):
            return
        data = [
            {
                "type": "model",
                "id": model,
                "display_name": model,
                "created_at": "2025-01-01T00:00:00Z",
            }
            for model in self.models
        ]
        handler.send_json(
            200,
            {
                "data": data,
                "has_more": False,
                "first_id": self.models[0] if self.models else None,
                "last_id": self.models[-1] if self.models else None,
            },
        )

    def handle_post(self, handler: Handler) -> None:
        body = handler.read_json()
        if handler.path.split("?")[0] != "/v1/messages":
            handler.send_json(404, error_body(404, f"Not found: {handler.path}"))
            return
        self._record(Received(handler.path, handler.header_map(), body))
        if not self._headers_ok(handler):
            return
        reply = self._next_reply()
        if isinstance(reply, Hang):
            self._hang(reply.seconds)
            handler.drop()
        if isinstance(reply, Error) and reply.in_stream:
            self._stream_error(handler, str(body.get("model") or "claude-test"), reply)
            return
        if isinstance(reply, Error):
            handler.send_json(
                reply.status, error_body(reply.status, reply.message), {"request-id": "req_fake"}
            )
            return
        model = str(body.get("model") or "claude-test")
        blocks = self._blocks(reply)
        prompt, output = self._usage(body, reply)
        with self._lock:
            self._message_ids += 1
            message_id = f"msg_fake{self._message_ids}"
        stop_reason = "tool_use" if isinstance(reply, ToolCalls) else "end_turn"
        if body.get("stream"):
            self._stream(handler, message_id, model, blocks, stop_reason, (prompt, output), reply)
            return
        content = [
            {"type": "text", "text": block["text"]}
            if block["type"] == "text"
            else {
                "type": "tool_use",
                "id": block["id"],
                "name": block["name"],
                "input": json.loads(block["json"] or "{}"),
            }
            for block in blocks
        ]
        handler.send_json(
            200,
            {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": {"input_tokens": prompt, "output_tokens": output},
            },
            {"request-id": "req_fake"},
        )

    def _blocks(self, reply: Text | ToolCalls) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if reply.text:
            blocks.append({"type": "text", "text": reply.text})
        if isinstance(reply, ToolCalls):
            with self._lock:
                start = self._tool_ids
                self._tool_ids += len(reply.calls)
            for number, (name, arguments) in enumerate(reply.calls, start + 1):
                blocks.append(
                    {"type": "tool_use", "id": f"toolu_{number}", "name": name, "json": arguments}
                )
        return blocks

    def _usage(self, body: dict[str, Any], reply: Text | ToolCalls) -> tuple[int, int]:
        if isinstance(reply, Text) and reply.usage is not None:
            return reply.usage
        output = len(pieces(reply.text))
        if isinstance(reply, ToolCalls):
            output += sum(len(split_arguments(args)) for _, args in reply.calls)
        return words_in(body), output

    def _stream_error(self, handler: Handler, model: str, reply: Error) -> None:
        handler.start_stream({"request-id": "req_fake"})
        start = {
            "type": "message_start",
            "message": {
                "id": "msg_fake_error",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": model,
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": 1},
            },
        }
        handler.send_chunk(f"event: message_start\ndata: {json.dumps(start)}\n\n")
        error = json.dumps(error_body(reply.status, reply.message))
        handler.send_chunk(f"event: error\ndata: {error}\n\n")
        handler.end_stream()

    def _stream(
        self,
        handler: Handler,
        message_id: str,
        model: str,
        blocks: list[dict[str, Any]],
        stop_reason: str,
        usage: tuple[int, int],
        reply: Text | ToolCalls,
    ) -> None:
        def event(name: str, data: dict[str, Any]) -> None:
            handler.send_chunk(f"event: {name}\ndata: {json.dumps(data)}\n\n")

        handler.start_stream({"request-id": "req_fake"})
        event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": model,
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": usage[0], "output_tokens": 1},
                },
            },
        )
        deltas = 0
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                start: dict[str, Any] = {"type": "text", "text": ""}
            else:
                start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
            if index == 0:
                event("ping", {"type": "ping"})
            if block["type"] == "text":
                for piece in pieces(block["text"]):
                    event(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "text_delta", "text": piece},
                        },
                    )
                    deltas += 1
                    if isinstance(reply, Text) and reply.break_after == deltas:
                        handler.drop()
            else:
                for part in ["", *split_arguments(block["json"])]:
                    event(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": part},
                        },
                    )
            event("content_block_stop", {"type": "content_block_stop", "index": index})
        event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": usage[1]},
            },
        )
        event("message_stop", {"type": "message_stop"})
        handler.end_stream()


if __name__ == "__main__":  # pragma: no cover
    with FakeAnthropic() as server:
        print(f"fake Anthropic at {server.base_url} (key {server.api_key}); Ctrl-C stops")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
