"""The Server-Sent Events decoder: whole messages from lines, as the WHATWG format says."""

from __future__ import annotations

from podium.client.sse import SSEDecoder, SSEMessage


def decode(text: str) -> list[SSEMessage]:
    decoder = SSEDecoder()
    messages = [decoder.feed(line) for line in text.split("\n")]
    return [m for m in messages if m is not None]


def test_messages_with_their_event_id_and_data() -> None:
    text = 'event: run.queued\nid: 7\ndata: {"a": 1}\n\n: ping\n\ndata: one\ndata: two\n\n'
    assert decode(text) == [
        SSEMessage("run.queued", '{"a": 1}', "7"),
        SSEMessage("message", "one\ntwo", None),
    ]


def test_a_message_is_only_whole_at_its_blank_line() -> None:
    assert decode("event: x\ndata: cut off") == []
    assert decode("data:no space\n\n") == [SSEMessage("message", "no space", None)]
