"""Credentials in query strings are redacted in uvicorn's log records."""

from __future__ import annotations

import logging

import pytest

from podium.api.accesslog import RedactCredentials, redact, uvicorn_log_config


@pytest.mark.parametrize(
    ("line", "logged"),
    [
        ("/api/v1/ws?token=eyJ.abc.def", "/api/v1/ws?token=[redacted]"),
        ("/api/v1/ws?x=1&api_key=pk_secret&y=2", "/api/v1/ws?x=1&api_key=[redacted]&y=2"),
        (
            "/a?ACCESS_TOKEN=t;refresh_token=r",
            "/a?ACCESS_TOKEN=[redacted];refresh_token=[redacted]",
        ),
        ("/api/v1/apps?tokens=1&monkey=2&limit=5", "/api/v1/apps?tokens=1&monkey=2&limit=5"),
    ],
)
def test_credential_values_are_redacted_and_nothing_else(line: str, logged: str) -> None:
    assert redact(line) == logged


def test_the_filter_rewrites_the_args_of_access_and_websocket_lines() -> None:
    access = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/api/v1/apps?api_key=pk_secret", "1.1", 200),
        None,
    )
    websocket = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        "",
        0,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5", "/api/v1/ws?token=eyJ.secret"),
        None,
    )
    for record in (access, websocket):
        assert RedactCredentials().filter(record)
        assert "secret" not in record.getMessage() and "[redacted]" in record.getMessage()


def test_serve_puts_the_filter_on_every_uvicorn_handler() -> None:
    config = uvicorn_log_config()
    assert set(config["handlers"]) == {"default", "access", "podium"}
    for handler in config["handlers"].values():
        assert handler["filters"][-1] == "redact_credentials"
