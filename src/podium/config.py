"""Settings from `PODIUM_*` environment variables."""

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./podium.db"


class Settings(BaseSettings):
    """Server and engine settings; every field is `PODIUM_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="PODIUM_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    sqlite_synchronous: Literal["normal", "full", "off"] = "normal"
    lease_seconds: float = 30.0
    workers: int = 4
    poll_seconds: float = 0.5
    max_steps: int = 1000
    run_timeout_seconds: float = 3600.0
    call_timeout_seconds: float = 300.0
    default_model: str = "offline/echo"


def get_settings() -> Settings:
    """Settings read from the environment now (not cached, so tests can change it)."""
    return Settings()
