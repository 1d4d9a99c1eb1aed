"""Request and response bodies of `/apps/{app_id}/retention` (docs/retention.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from podium.engine.retention import RetentionPolicy, RuleBody


class RetentionCaps(BaseModel):
    """The most an app's own policy may keep (PODIUM_RETENTION_MAX_DAYS, …_MAX_KEEP_LAST)."""

    max_days: float
    max_keep_last: int


class RetentionPublic(BaseModel):
    """The app's own policy, the policy in force (its own over the server's), the caps."""

    policy: RetentionPolicy
    effective: dict[str, RuleBody]
    caps: RetentionCaps

    @classmethod
    def of(cls, view: dict[str, Any]) -> RetentionPublic:
        return cls.model_validate(view)
