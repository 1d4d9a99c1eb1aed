"""Image generation: `generate(prompt, size=…, count=…)` → images, each as base64 or a URL.

One provider, `fireworks`: Fireworks' Flux text-to-image API. A request is `POST
{base}/workflows/accounts/fireworks/models/{model}/text_to_image` with JSON `{prompt,
aspect_ratio, seed?}` and `Authorization: Bearer <key>`; the answer is the image's bytes
(`Accept: image/jpeg`), or JSON with `base64` images (data URLs) or a `url`. The server's key
is `PODIUM_FIREWORKS_API_KEY` (`PODIUM_FIREWORKS_BASE_URL` to reach another host speaking the
same API). Model references are `fireworks/<model>` (default `fireworks/flux-1-schnell-fp8`).

As for chat providers (`podium.llm.sdk`): 429, 5xx, timeouts and failed connections are
retried with backoff (`with_retries`); any other error answer is a `ProviderError` naming the
provider, the model and the status (the server's words are logged, never returned: a tenant
may choose the URL); every connection passes the egress policy (`podium.egress`); an image
larger than `PODIUM_IMAGE_MAX_BYTES` is refused while it is read.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx2

from podium.egress import (
    EgressPolicy,
    EgressRefused,
    guarded_client,
    reason_phrase,
    refusal_in,
)
from podium.errors import InvalidInput
from podium.llm.base import ProviderError, RetryPolicy, is_retryable_status, with_retries

if TYPE_CHECKING:
    from podium.config import Settings

PROVIDER = "fireworks"
FIREWORKS_BASE_URL = "https://api.fireworks.ai/inference/v1"
DEFAULT_MODEL = "flux-1-schnell-fp8"
# The aspect ratios Flux takes; a size `WxH` is reduced to one of them.
ASPECT_RATIOS = ("1:1", "21:9", "16:9", "3:2", "5:4", "4:5", "2:3", "9:16", "9:21", "4:3", "3:4")
RATIO_TOLERANCE = math.log(1.06)
MAX_PROMPT_CHARS = 4_000
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """How to reach the image provider, and the caps on what one request brings back."""

    base_url: str = FIREWORKS_BASE_URL
    api_key: str | None = None
    timeout_seconds: float = 120.0
    max_retries: int = 2
    max_count: int = 4
    max_bytes: int = 786_432
    name: str = PROVIDER

    @classmethod
    def from_settings(cls, settings: Settings) -> ImageConfig:
        return cls(
            base_url=settings.fireworks_base_url or FIREWORKS_BASE_URL,
            api_key=settings.fireworks_api_key,
            timeout_seconds=settings.image_timeout_seconds,
            max_retries=settings.llm_max_retries,
            max_count=settings.image_max_count,
            max_bytes=settings.image_max_bytes,
        )


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """One image: its bytes as base64 (`base64`, with `mime_type`) or where it is (`url`)."""

    mime_type: str
    base64: str | None = None
    url: str | None = None
    seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"mime_type": self.mime_type}
        if self.base64 is not None:
            found["base64"] = self.base64
        if self.url is not None:
            found["url"] = self.url
        if self.seed is not None:
            found["seed"] = self.seed
        return found


def image_model(ref: str | None) -> str:
    """The provider's model name of a reference (`fireworks/<model>`; None: the default)."""
    if ref is None or not ref.strip():
        return DEFAULT_MODEL
    provider, slash, model = ref.strip().partition("/")
    if not slash or provider != PROVIDER or not model:
        raise InvalidInput(
            f"image model {ref!r} is not `fireworks/<model>`, e.g. `fireworks/{DEFAULT_MODEL}`"
        )
    return model


def aspect_ratio(size: str) -> str:
    """A size `WxH` (`1024x768`) or a ratio (`4:3`) as the aspect ratio Flux takes."""
    text = size.strip().lower()
    if text in ASPECT_RATIOS:
        return text
    width, x, height = text.partition("x")
    if x and width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0:
        # The nearest ratio within 6 %: Flux's own sizes are rounded (1344x768 is 16:9).
        wanted = math.log(int(width) / int(height))
        nearest = min(ASPECT_RATIOS, key=lambda r: abs(_log_ratio(r) - wanted))
        if abs(_log_ratio(nearest) - wanted) <= RATIO_TOLERANCE:
            return nearest
    raise InvalidInput(
        f"size {size!r} is not an image size of a ratio the provider makes; use e.g. "
        f"1024x1024 or 1344x768, or one of {', '.join(ASPECT_RATIOS)}"
    )


def _log_ratio(ratio: str) -> float:
    width, _, height = ratio.partition(":")
    return math.log(int(width) / int(height))


class FireworksImages:
    """The `fireworks` image provider. `retry` overrides the configuration's retry policy
    (tests use short delays); `policy` the egress policy in force."""

    def __init__(
        self,
        config: ImageConfig,
        *,
        retry: RetryPolicy | None = None,
        policy: EgressPolicy | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.retry = retry or RetryPolicy(attempts=config.max_retries + 1)
        self.policy = policy

    def url(self, model: str) -> str:
        base = self.config.base_url.rstrip("/")
        return f"{base}/workflows/accounts/fireworks/models/{model}/text_to_image"

    async def generate(
        self,
        prompt: str,
        *,
        size: str = "1024x1024",
        count: int = 1,
        seed: int | None = None,
        model: str | None = None,
    ) -> list[GeneratedImage]:
        """`count` images of `prompt` (one request each; `seed`, when given, counts up).

        Raises:
            InvalidInput: an empty or too long prompt, a size of no supported ratio, a count
                over `PODIUM_IMAGE_MAX_COUNT`, a model that is not `fireworks/<model>`.
            ProviderError: the provider failed (after the retries for 429, 5xx, timeouts and
                failed connections); names the provider, the model and the HTTP status.
        """
        if not prompt.strip():
            raise InvalidInput("an image needs a prompt: say what to draw")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise InvalidInput(
                f"the image prompt is {len(prompt)} characters; at most {MAX_PROMPT_CHARS}"
            )
        if not 1 <= count <= self.config.max_count:
            raise InvalidInput(
                f"count is {count}; ask for 1 to {self.config.max_count} images "
                "(PODIUM_IMAGE_MAX_COUNT)",
                details={"setting": "PODIUM_IMAGE_MAX_COUNT", "cap": self.config.max_count},
            )
        name = model if model and "/" not in model else image_model(model)
        ratio = aspect_ratio(size)
        images = []
        async with guarded_client(
            self.policy, timeout=self.config.timeout_seconds, follow_redirects=True
        ) as client:
            for number in range(count):
                body: dict[str, Any] = {"prompt": prompt, "aspect_ratio": ratio}
                if seed is not None:
                    body["seed"] = seed + number
                images.append(
                    await with_retries(
                        self.retry,
                        lambda body=body: self._request(client, name, body),  # type: ignore[misc]
                    )
                )
        return images

    async def _request(
        self, client: httpx2.AsyncClient, model: str, body: dict[str, Any]
    ) -> GeneratedImage:
        headers = {"Accept": "image/jpeg", "Content-Type": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        try:
            async with client.stream("POST", self.url(model), json=body, headers=headers) as got:
                data = await self._read(got, model)
                kind = got.headers.get("content-type", "").split(";")[0].strip().lower()
                if got.status_code >= 400:
                    raise self._status_error(got.status_code, data, model)
        except (httpx2.HTTPError, EgressRefused) as exc:
            raise self._transport_error(exc, model) from exc
        if kind.startswith("image/"):
            return GeneratedImage(kind, base64.b64encode(data).decode(), seed=body.get("seed"))
        return self._from_json(data, model, body.get("seed"))

    async def _read(self, response: httpx2.Response, model: str) -> bytes:
        """The answer's body, refused once it passes the size cap."""
        cap = self.config.max_bytes
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise ProviderError(
                    self.name,
                    model,
                    f"the image is over {cap} bytes (PODIUM_IMAGE_MAX_BYTES); ask for a "
                    "smaller size or raise the setting",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _status_error(self, status: int, data: bytes, model: str) -> ProviderError:
        logger.info(
            "image provider %r answered HTTP %s: %s",
            self.name,
            status,
            data[:500].decode("utf-8", "replace"),
        )
        message = reason_phrase(status)
        if status == 401 and not self.config.api_key:
            message += (
                f" (no API key is configured for {self.name!r}; set PODIUM_FIREWORKS_API_KEY)"
            )
        return ProviderError(
            self.name, model, message, status=status, retryable=is_retryable_status(status)
        )

    def _transport_error(self, exc: Exception, model: str) -> ProviderError:
        refused = refusal_in(exc)
        if refused is not None:
            return ProviderError(self.name, model, refused.message)
        if isinstance(exc, httpx2.TimeoutException):
            seconds = self.config.timeout_seconds
            return ProviderError(
                self.name,
                model,
                f"timed out after {seconds:g} seconds waiting for {self.config.base_url}",
                retryable=True,
            )
        logger.info("image provider %r: %s", self.name, exc)
        return ProviderError(
            self.name, model, f"could not connect to {self.config.base_url}", retryable=True
        )

    def _from_json(self, data: bytes, model: str, seed: int | None) -> GeneratedImage:
        """A JSON answer: `{"base64": ["data:image/png;base64,…"], "seed", "finishReason"}`
        or `{"url": …}`."""
        try:
            answer = json.loads(data)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ProviderError(self.name, model, "the answer is neither an image nor JSON")
        reason = answer.get("finishReason")
        if reason not in (None, "SUCCESS"):
            raise ProviderError(self.name, model, f"no image was made ({reason})")
        seed = answer.get("seed", seed) if isinstance(answer.get("seed"), int) else seed
        found = answer.get("base64")
        if isinstance(found, list) and found and isinstance(found[0], str):
            return decode_data_url(found[0], self.name, model, seed)
        url = answer.get("url") or answer.get("image_url")
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            return GeneratedImage("image/*", url=url, seed=seed)
        raise ProviderError(self.name, model, "the answer holds no image (base64 or url)")


def decode_data_url(text: str, provider: str, model: str, seed: int | None) -> GeneratedImage:
    """`data:image/png;base64,…` (or bare base64, taken as JPEG), checked to decode."""
    mime_type, encoded = "image/jpeg", text
    if text.startswith("data:"):
        header, _, encoded = text.partition(",")
        mime_type = header.removeprefix("data:").split(";")[0] or mime_type
    try:
        base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ProviderError(provider, model, "the image's base64 does not decode") from None
    return GeneratedImage(mime_type, encoded, seed=seed)


async def generate(
    settings: Settings,
    prompt: str,
    *,
    size: str = "1024x1024",
    count: int = 1,
    seed: int | None = None,
    model: str | None = None,
) -> list[GeneratedImage]:
    """Images from the server's image provider (`PODIUM_FIREWORKS_*`), under the egress
    policy of `settings`."""
    provider = FireworksImages(
        ImageConfig.from_settings(settings), policy=EgressPolicy.from_settings(settings)
    )
    return await provider.generate(
        prompt, size=size, count=count, seed=seed, model=image_model(model)
    )
