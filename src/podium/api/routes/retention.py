"""`/apps/{app_id}/retention`: the app's own retention policy (docs/retention.md)."""

from __future__ import annotations

from fastapi import APIRouter

from podium.api.deps import AppAdmin, ServicesDep
from podium.api.retention_schemas import RetentionPublic
from podium.engine.retention import RetentionPolicy

router = APIRouter(prefix="/apps/{app_id}/retention", tags=["apps"])


@router.get("", response_model_exclude_none=True)
async def get_retention(access: AppAdmin, services: ServicesDep) -> RetentionPublic:
    """The app's own policy, the policy in force (its own over the server's) and the caps."""
    return RetentionPublic.of(await services.retention.policy(access.app_id))


@router.put("", response_model_exclude_none=True)
async def put_retention(
    body: RetentionPolicy, access: AppAdmin, services: ServicesDep
) -> RetentionPublic:
    """Replace the app's own policy (owners and admins); a bound above the server's cap is
    refused (422, `limit_too_high`)."""
    return RetentionPublic.of(await services.retention.set_policy(access.app_id, body))
