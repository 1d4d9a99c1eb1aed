"""Settings from PODIUM_* variables: lists, and a signing key long enough for HS256."""

from __future__ import annotations

import pydantic
import pytest

from podium.config import Settings


def test_lists_come_comma_separated_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_ALLOWED_ORIGINS", "https://app.example.com/, http://localhost:3000")
    monkeypatch.setenv("PODIUM_API_PYTHON_MODULES", "myapp.nodes,shared")
    settings = Settings()
    assert settings.allowed_origins == ["https://app.example.com", "http://localhost:3000"]
    assert settings.api_python_modules == ["myapp.nodes", "shared"]


def test_a_short_secret_key_is_refused_with_how_to_make_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PODIUM_SECRET_KEY", "short")
    with pytest.raises(pydantic.ValidationError) as caught:
        Settings()
    assert "shorter than 32 bytes" in str(caught.value)
    assert "secrets.token_urlsafe" in str(caught.value)


def test_a_long_secret_key_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_SECRET_KEY", "k" * 32)
    assert Settings().secret_key == "k" * 32
