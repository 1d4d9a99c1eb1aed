"""Log lines as text or JSON (`PODIUM_LOG_FORMAT`), at `PODIUM_LOG_LEVEL`, with the ids of
the run they were written for.

The worker binds a run's app, session and run ids (and the step's node) to the task that
executes it, so every line written meanwhile, by Podium, node code or a tool, carries them;
with tracing on, the trace and span ids too. The stdlib `logging` module does the rest:
`configure_logging` is what `podium worker` applies, and `podium serve` hands the same
configuration, uvicorn's loggers included, to uvicorn. The level applies to every logger of
the process (a library's INFO lines show at INFO).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from podium import tracing

if TYPE_CHECKING:
    from podium.config import Settings

CONTEXT_KEYS = ("app_id", "session_id", "run_id", "node_id", "trace_id", "span_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(podium_context)s"
# The attributes every LogRecord has: anything else on a record came with `extra=` and goes
# into its JSON object.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "podium_context",
    "color_message",  # uvicorn's copy of the message with terminal colours
}
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")

_NOTHING: Mapping[str, str] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "podium_log_context", default=_NOTHING
)


def bind(**fields: str) -> contextvars.Token[Mapping[str, str]]:
    """Add `fields` (`run_id=…`) to the lines logged from this task and the tasks it starts,
    until `unbind` with the token returned."""
    return _context.set({**_context.get(), **fields})


def unbind(token: contextvars.Token[Mapping[str, str]]) -> None:
    _context.reset(token)


def context() -> dict[str, str]:
    """The ids bound to the current task, with the current trace's when tracing is on."""
    fields = dict(_context.get())
    ids = tracing.current_ids()
    if ids is not None:
        fields |= {"trace_id": ids[0], "span_id": ids[1]}
    return fields


class ContextFilter(logging.Filter):
    """Puts the bound ids on each record (`record.podium_context`, and one attribute each)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = context()
        for key, value in fields.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        record.podium_context = (
            " [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]" if fields else ""
        )
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object a line: `ts`, `level`, `logger`, `message`, the bound ids, any
    `extra=` fields, and `exception` with the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if _is_json(value) else repr(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=repr)


class TextFormatter(logging.Formatter):
    """`TEXT_FORMAT`: time, level, logger, message and the bound ids in brackets."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "podium_context"):
            record.podium_context = ""
        return super().format(record)


def _timestamp(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def _is_json(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)


def logging_config(settings: Settings, *, uvicorn: dict[str, Any] | None = None) -> dict[str, Any]:
    """A `logging.config.dictConfig` configuration, what `configure_logging` does: every
    logger on stderr in the settings' format and level; with `uvicorn` (uvicorn's own
    configuration, whose loggers keep their handlers), in JSON too when the format is JSON."""
    formatter = "podium_json" if settings.log_format == "json" else "podium_text"
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"podium_context": {"()": ContextFilter}},
        "formatters": {
            "podium_json": {"()": JSONFormatter},
            "podium_text": {"()": TextFormatter},
        },
        "handlers": {
            "podium": {
                "()": StderrHandler,
                "formatter": formatter,
                "filters": ["podium_context"],
            }
        },
        "root": {"handlers": ["podium"], "level": settings.log_level},
    }
    if uvicorn is not None:
        for section in ("filters", "formatters", "handlers", "loggers"):
            config[section] = {**uvicorn.get(section, {}), **config.get(section, {})}
        for name in _UVICORN:
            if name in config["loggers"]:
                config["loggers"][name]["level"] = settings.log_level
        if settings.log_format == "json":
            for handler in uvicorn.get("handlers", {}):
                config["handlers"][handler]["formatter"] = "podium_json"
    return config


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to `sys.stderr` as it is when a line is written, not as it was when logging
    was configured (a stream swapped meanwhile, by a test runner say, may be closed)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(settings: Settings) -> Callable[[], None]:
    """Every logger of this process (Podium's, node code's, tools', libraries') writes to
    stderr in the settings' format, from the settings' level up. A handler added before by
    someone else stays; one added by an earlier call is replaced. Returns what puts the
    root logger back as it was (for a command run inside another program, a test say)."""
    handler = StderrHandler()
    handler.setFormatter(JSONFormatter() if settings.log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    for old in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)

    def restore() -> None:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])

    return restore
