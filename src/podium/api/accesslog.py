"""Credentials never reach the server's logs: uvicorn writes each request's path with its
query string (the access log, and the WebSocket lines of its error log), and a WebSocket
client may authenticate with `?token=` or `?api_key=`. `RedactCredentials` replaces those
values with `[redacted]` before a line is formatted."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from podium.config import Settings
from podium.logs import logging_config

CREDENTIAL_PARAMETERS = ("token", "api_key", "access_token", "refresh_token", "key")
_CREDENTIAL = re.compile(
    r"(?P<name>(?:^|[?&;])(?:" + "|".join(CREDENTIAL_PARAMETERS) + r"))=[^&;\s\"']*",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """`text` with the values of credential query parameters replaced."""
    return _CREDENTIAL.sub(lambda m: f"{m.group('name')}={REDACTED}", text)


class RedactCredentials(logging.Filter):
    """A log filter that redacts credential query parameters in a record's message and args."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "=" in record.msg:
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact(arg) if isinstance(arg, str) and "=" in arg else arg for arg in record.args
            )
        return True


def uvicorn_log_config(settings: Settings | None = None) -> dict[str, Any]:
    """uvicorn's own logging configuration with `RedactCredentials` on every handler, and
    Podium's loggers in the settings' format and level (`podium.logs`)."""
    from uvicorn.config import LOGGING_CONFIG

    config = logging_config(settings or Settings(), uvicorn=copy.deepcopy(LOGGING_CONFIG))
    config["filters"]["redact_credentials"] = {"()": RedactCredentials}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_credentials")
    return config
