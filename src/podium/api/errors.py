"""The error envelope of DESIGN §6 for every error: `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from podium.errors import (
    AgentInvalid,
    AnswerInvalid,
    Conflict,
    FlowInvalid,
    Forbidden,
    InvalidInput,
    JSONValueInvalid,
    KnowledgeInvalid,
    LimitTooHigh,
    LogTruncated,
    NotAllowed,
    NotFound,
    PayloadTooLarge,
    PodiumError,
    PreconditionFailed,
    PrerequisiteNotMet,
    RateLimited,
    ScheduleInvalid,
    StoreUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    UpstreamFailed,
    WebhookInvalid,
    WorkflowGraphInvalid,
    WorkflowInvalid,
)

STATUS = {
    AgentInvalid: 422,  # before InvalidInput, which it is a kind of
    AnswerInvalid: 422,
    JSONValueInvalid: 422,
    KnowledgeInvalid: 422,
    LimitTooHigh: 422,
    NotAllowed: 422,
    WorkflowInvalid: 422,
    ScheduleInvalid: 422,
    WebhookInvalid: 422,
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 400,
    FlowInvalid: 422,
    WorkflowGraphInvalid: 422,
    PrerequisiteNotMet: 409,
    PreconditionFailed: 412,
    UnsupportedMediaType: 415,
    PayloadTooLarge: 413,
    Unauthorized: 401,
    Forbidden: 403,
    RateLimited: 429,
    UpstreamFailed: 502,
    StoreUnavailable: 503,
    LogTruncated: 410,
}
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    502: "bad_gateway",
    503: "unavailable",
}


class ErrorBody(BaseModel):
    code: str = Field(description="stable, machine-readable: not_found, conflict, …")
    message: str
    details: dict[str, Any] = Field(description="more about it, e.g. `problems` for 422")


class ErrorEnvelope(BaseModel):
    """What every error answers (DESIGN §6)."""

    error: ErrorBody


# Declared on the API's routes (OpenAPI), so clients and schemathesis know the error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": code.replace("_", " ")}
    for status, code in HTTP_CODES.items()
    if status not in (405, 410, 502)  # declared by the routes that answer them (410: events)
}


def envelope(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _podium_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PodiumError)
    return error_response(exc)


def error_response(exc: PodiumError) -> JSONResponse:
    """The envelope of one of Podium's errors, with its status (and its headers: the
    WWW-Authenticate of a 401, the Retry-After of a 429)."""
    status = next((s for kind, s in STATUS.items() if isinstance(exc, kind)), 400)
    headers = None
    if isinstance(exc, Unauthorized):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, RateLimited):
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
    return envelope(status, exc.code, exc.message, exc.details, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        problems.append({"field": where, "message": error["msg"]})
    first = problems[0] if problems else {"field": "", "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return envelope(422, "invalid_input", message, {"problems": problems})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "error")
    headers = dict(exc.headers) if exc.headers else None
    details = getattr(exc, "details", None)  # e.g. BodyTooLarge's max_bytes
    return envelope(exc.status_code, code, str(exc.detail), details, headers=headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(PodiumError, _podium_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
