"""What the providers over an official SDK (`openai`, `anthropic`) share.

`SDKProvider` holds the configuration and retry policy, makes the SDK client per running
event loop (with the SDK's own retries off) and closes it, runs each attempt through
`with_retries`, turns the SDK's errors into `ProviderError`s in the server's words (not
retryable once text was streamed) and checks health by listing the server's models. A
provider adds its base URL default, its client, one streamed attempt, the exception types of
its SDK and how it reads an error answer (`_status`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Sized
from typing import ClassVar, Generic, Protocol, TypeVar

import httpx2

from podium.egress import reason_phrase, refusal_in
from podium.llm.base import (
    DeltaSink,
    Health,
    ModelRequest,
    ModelResponse,
    ProviderError,
    RetryPolicy,
    is_retryable_status,
    with_retries,
)
from podium.llm.providers import PRESETS, ProviderConfig

HEALTH_TIMEOUT_SECONDS = 10.0
NO_KEY = "no-key"  # the SDKs insist on a key; servers that need none (Ollama) ignore it
MAX_ERROR_TEXT = 500  # characters of an error answer's body logged at the most
logger = logging.getLogger(__name__)


class ModelPage(Protocol):
    """A page of the server's model list."""

    @property
    def data(self) -> Sized: ...


class ModelList(Protocol):
    def list(self, *, timeout: float) -> Awaitable[ModelPage]: ...


class SDKClient(Protocol):
    """What the shared code uses of an SDK's async client."""

    @property
    def models(self) -> ModelList: ...

    async def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=SDKClient)
StatusErrorT = TypeVar("StatusErrorT", bound=Exception)


class StreamedSink:
    """`on_delta` as an attempt sees it: remembers whether any text was streamed."""

    def __init__(self, on_delta: DeltaSink | None) -> None:
        self.on_delta = on_delta
        self.streamed = False

    def __call__(self, text: str) -> None:
        self.streamed = True
        if self.on_delta is not None:
            self.on_delta(text)


class SDKProvider(ABC, Generic[ClientT, StatusErrorT]):
    """A provider over an SDK whose client is a `ClientT` and whose error answers are
    `StatusErrorT`s. `retry` overrides the configuration's retry policy (tests use short
    delays)."""

    # The SDK's exception types: any of its errors; an error answer (with its status);
    # a timeout; a failed connection; an error without a status (e.g. an error event in
    # the middle of a stream). Checked in that order after the status error, so a subclass
    # comes before its base.
    _sdk_error: ClassVar[type[Exception]]
    _status_error: type[StatusErrorT]
    _timeout_error: ClassVar[type[Exception]]
    _connection_error: ClassVar[type[Exception]]
    _api_error: ClassVar[type[Exception]]

    def __init__(self, config: ProviderConfig, *, retry: RetryPolicy | None = None) -> None:
        self.config = config
        self.name = config.name
        self.retry = retry or config.retry
        self.base_url = self._default_base_url(config)
        self._client: ClientT | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @staticmethod
    @abstractmethod
    def _default_base_url(config: ProviderConfig) -> str:
        """The base URL the client is made with (the configuration's, or the default)."""

    @abstractmethod
    def _make_client(self) -> ClientT:
        """A new SDK client for `base_url`, with the SDK's own retries off."""

    @abstractmethod
    async def _attempt(
        self, client: ClientT, request: ModelRequest, on_delta: StreamedSink
    ) -> ModelResponse:
        """One streamed call, every piece of text passed to `on_delta` as it arrives. The
        SDK's errors (and httpx2's, and a malformed event's `JSONDecodeError`) may escape:
        `complete` describes them."""

    @abstractmethod
    def _status(self, exc: StatusErrorT) -> tuple[str, int | None]:
        """An error answer as (what the server said, HTTP status)."""

    def _sdk(self) -> ClientT:
        """The SDK client, made on first use in the running event loop (its connection pool
        belongs to one loop)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = self._make_client()
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the SDK client and its connections."""
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            await client.close()

    async def complete(
        self, request: ModelRequest, on_delta: DeltaSink | None = None
    ) -> ModelResponse:
        return await with_retries(self.retry, lambda: self._call(request, on_delta))

    async def _call(self, request: ModelRequest, on_delta: DeltaSink | None) -> ModelResponse:
        client = self._sdk()
        sink = StreamedSink(on_delta)
        try:
            return await self._attempt(client, request, sink)
        except (self._sdk_error, httpx2.HTTPError, json.JSONDecodeError) as exc:
            # (the SDKs do not wrap all of httpx2's errors, e.g. those read mid-stream, nor a
            # malformed event)
            raise self._error(exc, request.model, streamed=sink.streamed) from exc

    def _error(self, exc: Exception, model: str, *, streamed: bool) -> ProviderError:
        message, status, retryable = self._describe(exc)
        if streamed:
            retryable = False
            message += " (after part of the answer was streamed)"
        return ProviderError(self.name, model, message, status=status, retryable=retryable)

    def _describe(self, exc: Exception) -> tuple[str, int | None, bool]:
        """What went wrong: (message, HTTP status, retryable). The server's own words are
        logged, never put in the message: a tenant chooses the URL, so an answer's body must
        not come back through Podium (the status line does)."""
        refused = refusal_in(exc)
        if refused is not None:
            return refused.message, None, False
        if isinstance(exc, self._status_error):
            words, status = self._status(exc)
            logger.info("provider %r answered HTTP %s: %s", self.name, status, words)
            message = self._status_line(exc, status)
            if status == 401 and not self.config.api_key:
                preset = PRESETS.get(self.name)
                where = f"; set {preset.key_variable}" if preset is not None else ""
                message += f" (no API key is configured for provider {self.name!r}{where})"
            return message, status, is_retryable_status(status)
        if isinstance(exc, (self._timeout_error, httpx2.TimeoutException)):
            seconds = self.config.timeout_seconds
            return f"timed out after {seconds:g} seconds waiting for {self.base_url}", None, True
        if isinstance(exc, (self._connection_error, httpx2.TransportError)):
            # One message whatever the reason (refused, reset, not HTTP): which ports are
            # open must not be told apart through Podium.
            logger.info(
                "provider %r: no connection to %s: %s", self.name, self.base_url, cause(exc)
            )
            return f"could not connect to {self.base_url}", None, True
        logger.info("provider %r: %s", self.name, exc)
        if isinstance(exc, self._api_error):
            return "the provider reported an error in the middle of its answer", None, False
        if isinstance(exc, json.JSONDecodeError):
            return "the answer could not be read (it is not the provider's JSON)", None, False
        return f"the answer could not be read ({type(exc).__name__})", None, False

    def _status_line(self, exc: StatusErrorT, status: int | None) -> str:
        """What an error answer is reported by: the standard reason phrase (`Not Found`)."""
        return reason_phrase(status)

    async def health(self) -> Health:
        """Whether the server lists its models with this configuration's key (an answer
        such as 401 counts as not reachable, with the server's words). Never raises."""
        try:
            page = await self._sdk().models.list(
                timeout=min(self.config.timeout_seconds, HEALTH_TIMEOUT_SECONDS)
            )
        except Exception as exc:
            message, status, _ = self._describe(exc)
            return Health(False, f"HTTP {status}: {message}" if status is not None else message)
        return Health(True, f"{len(page.data)} models listed at {self.base_url}")


def cause(exc: BaseException) -> str:
    """The innermost reason of a connection error ("[Errno 111] Connection refused")."""
    reason = exc
    while reason.__cause__ is not None:
        reason = reason.__cause__
    return str(reason) or type(reason).__name__
