"""Server-Sent Events, read line by line (the WHATWG event-stream format), with no I/O: the
client feeds it the lines of a response and gets whole messages back."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SSEMessage:
    event: str  # "message" when the server named none
    data: str
    id: str | None  # the `id:` field of this message (Podium: the event's seq), if any


class SSEDecoder:
    """Collects `event:`, `data:` and `id:` fields until a blank line ends a message."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, line: str) -> SSEMessage | None:
        """One line without its end; the message it completes, or None."""
        if not line:
            if not self._data and not self._event:
                self._id = None
                return None
            message = SSEMessage(self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data, self._id = "", [], None
            return message
        if line.startswith(":"):  # a comment: the server's keep-alive ping
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        return None
