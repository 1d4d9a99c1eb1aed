"""Metadata in an agent's answer: a JSON object at its end, for flows to route on.

An agent node with `metadata_key` asks the agent to end its answer with one JSON object
(`{"lead_score": 82}`), bare or in a fenced block. `split_metadata` takes it off the answer;
the node stores it under the key, where a router's rules (`state.metadata.lead_score`) see it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from podium import jsonvalue
from podium.errors import JSONValueInvalid
from podium.llm.offline import METADATA_REQUEST

_FENCE = re.compile(r"```(?:json)?\s*(\{.*\})\s*```\s*$", re.DOTALL | re.IGNORECASE)
MAX_CANDIDATES = 64  # opening braces tried, from the end, before giving up


def split_metadata(text: str) -> tuple[str, dict[str, Any] | None]:
    """`(answer without the metadata, metadata)`; the metadata is None when the answer does
    not end with a JSON object."""
    stripped = text.rstrip()
    fenced = _FENCE.search(stripped)
    if fenced is not None:
        try:
            value = jsonvalue.loads(fenced.group(1), "the answer's metadata")
        except JSONValueInvalid:
            value = None
        if isinstance(value, dict):
            return stripped[: fenced.start()].rstrip(), value
    decoder = json.JSONDecoder()
    # The earliest brace whose object runs to the end is the outermost one.
    starts = [index for index, char in enumerate(stripped) if char == "{"][-MAX_CANDIDATES:]
    for start in starts:
        try:
            value, end = decoder.raw_decode(stripped, start)
        except (json.JSONDecodeError, RecursionError):
            continue
        if end == len(stripped) and isinstance(value, dict):
            try:  # the one JSON boundary: model output is stored in the state
                jsonvalue.check_value(value, "the answer's metadata")
            except JSONValueInvalid:
                return text, None
            return stripped[:start].rstrip(), value
    return text, None


def metadata_request(keys: list[str] | None) -> str:
    """What the agent is told to add to its answer. It starts with METADATA_REQUEST, and its
    example names each key as a JSON string: the offline echo model reads the keys from it."""
    example = (
        ", ".join(f"{json.dumps(key, ensure_ascii=False)}: ..." for key in keys)
        if keys
        else '"key": "value"'
    )
    named = f" with the keys {', '.join(keys)}" if keys else ""
    return f"{METADATA_REQUEST}{named} on its own line, for example {{{example}}}."


def describe_missing(agent: str, key: str, text: str) -> str:
    shown = text if len(text) <= 200 else text[:200] + "…"
    return (
        f"agent {agent!r} answered without the JSON metadata its node asks for "
        f"(metadata_key {key!r}): its answer must end with a JSON object such as "
        f'{{"lead_score": 80}}; it was {shown!r}'
    )
