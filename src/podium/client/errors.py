"""The client's exceptions: a server's error envelope (DESIGN §6) as a Python exception."""

from __future__ import annotations

from typing import Any


class PodiumError(Exception):
    """Anything the client raises on purpose."""


class APIError(PodiumError):
    """An error answer of the server: its HTTP status and the envelope's code, message and
    details (`details["problems"]` for a 422, `details["setting"]` for a cap, …)."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}

    @classmethod
    def of(cls, status: int, body: Any, fallback: str) -> APIError:
        """The error of an answer's body: the envelope when it is one, else `fallback` (a
        proxy's HTML page, an empty body) as the message."""
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            details = error.get("details")
            return cls(
                status,
                error["code"],
                str(error.get("message", "")),
                details if isinstance(details, dict) else {},
            )
        return cls(status, "http_error", fallback[:500] or f"HTTP {status}")


class StreamLost(PodiumError):
    """An event stream could not be reconnected within the client's `reconnect_seconds`."""


class WaitTimeout(PodiumError, TimeoutError):
    """`wait_for` reached its timeout before the run reached a status it waits for."""

    def __init__(self, message: str, last: Any) -> None:
        super().__init__(message)
        self.last = last  # the run as it was last seen
