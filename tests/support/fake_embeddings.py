"""A fake embeddings server: real HTTP on 127.0.0.1 speaking OpenAI's `POST /v1/embeddings`.

Its vectors are a hashed bag of words, so texts sharing words are near each other, and it
knows a few synonyms (each word of a group counts as the group's first), so that it finds
what full-text search cannot: "car" is near "automobile". Deterministic: the same text
always has the same vector.

    with FakeEmbeddings() as server:              # api_key="sk-test"; DIMENSIONS floats
        config = ProviderConfig("openai", "openai", server.base_url, server.api_key)
        server.reply_error(500, "boom")           # the next request fails
        server.requests[0].body["input"]          # what was asked

`requests`, `count`, `reply_error` and `reply_hang` are `FakeOpenAI`'s (support.fake_openai).
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from support.fake_openai import Error, FakeOpenAI, Handler, Hang, Received, _openai_error

DIMENSIONS = 64
SYNONYMS = (
    ("car", "automobile", "vehicle", "motorcar"),
    ("doctor", "physician", "medic"),
    ("buy", "purchase", "acquire"),
    ("film", "movie", "picture"),
    ("big", "large", "huge"),
)
_CANONICAL = {word: group[0] for group in SYNONYMS for word in group}
_WORD = re.compile(r"[^\W_]+")


def vector(text: str) -> list[float]:
    """The fake model's unit vector for `text`."""
    values = [0.0] * DIMENSIONS
    for word in _WORD.findall(text.casefold()):
        word = _CANONICAL.get(word.removesuffix("s"), _CANONICAL.get(word, word))
        digest = hashlib.sha256(word.encode()).digest()
        values[int.from_bytes(digest[:4], "big") % DIMENSIONS] += 1.0
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


class FakeEmbeddings(FakeOpenAI):
    """`POST /v1/embeddings` (and `GET /v1/models`)."""

    def __init__(self, api_key: str | None = "sk-test") -> None:
        super().__init__(api_key, ["fake-embed"])
        self.short_answers = False  # answer one vector fewer than asked (a broken server)

    def __enter__(self) -> FakeEmbeddings:
        return self

    def handle_post(self, handler: Handler) -> None:
        body = handler.read_json()
        if handler.path.split("?")[0] != "/v1/embeddings":
            handler.send_json(404, _openai_error(404, f"Unknown path {handler.path}"))
            return
        self._record(Received(handler.path, handler.header_map(), body))
        if not self._authorized(handler):
            return
        with self._lock:
            reply = self._replies.popleft() if self._replies else None
        if isinstance(reply, Hang):
            self._hang(reply.seconds)
            handler.drop()
        if isinstance(reply, Error):
            handler.send_json(reply.status, _openai_error(reply.status, reply.message))
            return
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        data: list[dict[str, Any]] = [
            {"object": "embedding", "index": index, "embedding": vector(text)}
            for index, text in enumerate(texts)
        ]
        if self.short_answers:
            data = data[:-1]
        tokens = sum(len(_WORD.findall(text)) for text in texts)
        handler.send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )
