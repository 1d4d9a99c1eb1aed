"""`/users`: the back office of platform administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from podium.api.deps import PlatformAdmin, ServicesDep
from podium.api.schemas import UserCreate, UserPage, UserPublic
from podium.errors import Conflict

router = APIRouter(prefix="/users", tags=["users"])


@router.post("", status_code=201)
async def create_user(body: UserCreate, _: PlatformAdmin, services: ServicesDep) -> UserPublic:
    """Create a user (a platform administrator when `is_admin`)."""
    user = await services.auth.create_user(
        body.email, body.username, body.password, is_admin=body.is_admin
    )
    return UserPublic.of(user)


@router.get("")
async def list_users(
    _: PlatformAdmin,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=80)] = None,
) -> UserPage:
    """Every user, a page at a time (`cursor` is the previous page's `next_cursor`)."""
    users = await services.auth.list_users(limit + 1, cursor)
    more = len(users) > limit
    users = users[:limit]
    return UserPage(
        items=[UserPublic.of(u) for u in users], next_cursor=users[-1].id if more else None
    )


@router.get("/{user_id}")
async def get_user(user_id: str, _: PlatformAdmin, services: ServicesDep) -> UserPublic:
    return UserPublic.of(await services.auth.get_user(user_id))


@router.delete("/{user_id}", status_code=204)
async def delete_user(user_id: str, admin: PlatformAdmin, services: ServicesDep) -> Response:
    """Delete a user, their memberships and their refresh tokens (not yourself)."""
    if user_id == admin.user_id:
        raise Conflict(
            "you cannot delete your own account (the server could lose its last "
            "administrator); another administrator can"
        )
    await services.auth.delete_user(user_id)
    return Response(status_code=204)
