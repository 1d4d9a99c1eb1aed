"""The image provider (`podium.llm.images`) against a fake Fireworks-style server on loopback:
the request it sends, the answers it reads (bytes, base64, a URL), errors that name the
provider, 5xx retried then failing, the size and count caps, and the egress policy."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import pytest

from podium.config import Settings
from podium.egress import EgressPolicy
from podium.errors import InvalidInput
from podium.llm.base import ProviderError, RetryPolicy
from podium.llm.images import FireworksImages, ImageConfig, aspect_ratio, generate
from support.fake_images import TINY_JPEG, FakeImages

FAST = RetryPolicy(attempts=3, base_seconds=0.01, max_seconds=0.02)
PATH = "/inference/v1/workflows/accounts/fireworks/models/flux-1-schnell-fp8/text_to_image"
PNG = base64.b64encode(b"\x89PNG-fake").decode()


@pytest.fixture
def server() -> Iterator[FakeImages]:
    with FakeImages() as fake:
        yield fake


def provider(server: FakeImages, **config: object) -> FireworksImages:
    values: dict[str, object] = {"base_url": server.base_url, "api_key": "fw-test"}
    values.update(config)
    return FireworksImages(ImageConfig(**values), retry=FAST)  # type: ignore[arg-type]


async def test_the_request_and_an_image_answer(server: FakeImages) -> None:
    (image,) = await provider(server).generate("a fox in the snow", size="1344x768", seed=7)
    assert image.mime_type == "image/jpeg"
    assert image.base64 is not None and base64.b64decode(image.base64) == TINY_JPEG
    assert image.to_json() == {"mime_type": "image/jpeg", "base64": image.base64, "seed": 7}
    (received,) = server.requests
    assert received.path == PATH
    assert received.headers["authorization"] == "Bearer fw-test"
    assert received.headers["accept"] == "image/jpeg"
    assert received.headers["content-type"] == "application/json"
    assert received.body == {"prompt": "a fox in the snow", "aspect_ratio": "16:9", "seed": 7}


async def test_a_json_answer_with_base64_or_a_url(server: FakeImages) -> None:
    server.reply_json({"base64": [f"data:image/png;base64,{PNG}"], "seed": 42})
    server.reply_json({"url": "https://images.example/fox.png"})
    first, second = await provider(server).generate("a fox", count=2, seed=1, model="flux-1-dev")
    assert first.to_json() == {"mime_type": "image/png", "base64": PNG, "seed": 42}
    assert second.url == "https://images.example/fox.png" and second.base64 is None
    assert [r.body["seed"] for r in server.requests] == [1, 2]  # one request per image
    assert server.requests[0].path.endswith("/models/flux-1-dev/text_to_image")


async def test_a_4xx_names_the_provider_and_is_not_retried(server: FakeImages) -> None:
    server.reply_error(400, "prompt rejected: secret server words")
    with pytest.raises(ProviderError) as failed:
        await provider(server).generate("a fox")
    assert str(failed.value) == (
        "provider 'fireworks', model 'flux-1-schnell-fp8' (HTTP 400): Bad Request"
    )
    assert "secret server words" not in str(failed.value)  # logged, not returned
    assert len(server.requests) == 1


async def test_a_5xx_is_retried_then_fails(server: FakeImages) -> None:
    for _ in range(3):
        server.reply_error(503)
    with pytest.raises(ProviderError) as failed:
        await provider(server).generate("a fox")
    assert failed.value.status == 503 and "Service Unavailable" in str(failed.value)
    assert len(server.requests) == 3  # FAST: three attempts


async def test_a_5xx_then_an_image_succeeds(server: FakeImages) -> None:
    server.reply_error(500)
    server.reply_image(b"second-try", "image/png")
    (image,) = await provider(server).generate("a fox")
    assert image.mime_type == "image/png" and len(server.requests) == 2


async def test_a_missing_key_says_which_variable(server: FakeImages) -> None:
    with pytest.raises(ProviderError) as failed:
        await provider(server, api_key=None).generate("a fox")
    assert failed.value.status == 401
    assert str(failed.value).endswith(
        "(no API key is configured for 'fireworks'; set PODIUM_FIREWORKS_API_KEY)"
    )


async def test_an_image_over_the_cap_is_refused(server: FakeImages) -> None:
    server.reply_image(b"x" * 2_000)
    with pytest.raises(ProviderError, match=r"over 1000 bytes \(PODIUM_IMAGE_MAX_BYTES\)"):
        await provider(server, max_bytes=1_000).generate("a fox")


async def test_answers_without_an_image_are_errors(server: FakeImages) -> None:
    server.reply_json({"finishReason": "CONTENT_FILTERED"})
    server.reply_json({"base64": ["data:image/png;base64,!!!"]})
    server.reply_json({"nothing": True})
    images = provider(server)
    for expected in (
        "no image was made (CONTENT_FILTERED)",
        "the image's base64 does not decode",
        "the answer holds no image",
    ):
        with pytest.raises(ProviderError, match=re.escape(expected)):
            await images.generate("a fox")


async def test_loopback_is_refused_unless_allowed(server: FakeImages) -> None:
    refusing = FireworksImages(
        ImageConfig(base_url=server.base_url, api_key="fw-test"), retry=FAST, policy=EgressPolicy()
    )
    with pytest.raises(ProviderError) as refused:
        await refusing.generate("a fox")
    assert "outbound request to 127.0.0.1 refused" in str(refused.value)
    assert "PODIUM_EGRESS_ALLOW=127.0.0.1" in str(refused.value)
    assert server.requests == []  # nothing reached it
    # The operator's own PODIUM_FIREWORKS_BASE_URL is trusted, as for the chat providers.
    settings = Settings(fireworks_base_url=server.base_url, fireworks_api_key="fw-test")
    (image,) = await generate(settings, "a fox")
    assert image.mime_type == "image/jpeg"


@pytest.mark.parametrize(
    ("prompt", "options", "message"),
    [
        ("  ", {}, "an image needs a prompt"),
        ("x" * 4_001, {}, "the image prompt is 4001 characters; at most 4000"),
        ("a fox", {"count": 0}, "count is 0; ask for 1 to 4 images (PODIUM_IMAGE_MAX_COUNT)"),
        ("a fox", {"count": 5}, "count is 5; ask for 1 to 4 images"),
        ("a fox", {"size": "1000x1"}, "size '1000x1' is not an image size"),
        ("a fox", {"model": "openai/dall-e"}, "image model 'openai/dall-e' is not"),
    ],
)
async def test_bad_requests_are_refused_before_any_call(
    server: FakeImages, prompt: str, options: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await provider(server).generate(prompt, **options)  # type: ignore[arg-type]
    assert str(refused.value).startswith(message)
    assert server.requests == []


def test_sizes_become_ratios() -> None:
    assert aspect_ratio("1024x1024") == "1:1"
    assert aspect_ratio("1344X768") == "16:9"  # Flux's own 16:9 size, rounded
    assert aspect_ratio("1000x1000") == "1:1"
    assert aspect_ratio("768x1024") == "3:4"
    assert aspect_ratio("21:9") == "21:9"
