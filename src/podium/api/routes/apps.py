"""`/apps`: tenants, their members and their API keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from podium.api.account_schemas import InvitationPublic, MemberView
from podium.api.deps import AppAdmin, AppViewer, CurrentPrincipal, ServicesDep
from podium.api.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    AppCreate,
    AppPage,
    AppPublic,
    AppUpdate,
    MemberCreate,
    MemberUpdate,
)

router = APIRouter(prefix="/apps", tags=["apps"])


@router.post("", status_code=201)
async def create_app(
    body: AppCreate, principal: CurrentPrincipal, services: ServicesDep
) -> AppPublic:
    """Create an app; the caller becomes its owner."""
    return AppPublic.of(await services.tenancy.create_app(principal, body.name, body.description))


@router.get("")
async def list_apps(
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=80)] = None,
) -> AppPage:
    """The apps the caller is a member of (every app, for a platform administrator)."""
    apps = await services.tenancy.list_apps(principal, limit + 1, cursor)
    more = len(apps) > limit
    apps = apps[:limit]
    return AppPage(items=[AppPublic.of(a) for a in apps], next_cursor=apps[-1].id if more else None)


@router.get("/{app_id}")
async def get_app(access: AppViewer, services: ServicesDep) -> AppPublic:
    return AppPublic.of(await services.tenancy.get_app(access.principal, access.app_id))


@router.patch("/{app_id}")
async def update_app(body: AppUpdate, access: AppAdmin, services: ServicesDep) -> AppPublic:
    changes = body.model_dump(exclude_unset=True)
    return AppPublic.of(await services.tenancy.update_app(access.principal, access.app_id, changes))


@router.delete("/{app_id}", status_code=204)
async def delete_app(access: AppAdmin, services: ServicesDep) -> Response:
    """Delete the app and everything in it (owners only)."""
    await services.tenancy.delete_app(access.principal, access.app_id)
    return Response(status_code=204)


@router.get("/{app_id}/members")
async def list_members(access: AppViewer, services: ServicesDep) -> list[MemberView]:
    """The members; their emails only for the app's admins and owners."""
    members, with_email = await services.tenancy.list_members(access.principal, access.app_id)
    return [MemberView.of(m, with_email=with_email) for m in members]


@router.post(
    "/{app_id}/members",
    status_code=201,
    response_model=MemberView,
    responses={202: {"model": InvitationPublic, "description": "the user was invited"}},
)
async def add_member(body: MemberCreate, access: AppAdmin, services: ServicesDep) -> Any:
    """Invite a user (by email, username or id) with a role: 202 with the invitation, which the
    user accepts (`POST /invitations/{id}/accept`). The answer is the same whether or not such
    an account exists. A platform administrator adds the user at once (201, the member)."""
    if access.principal.is_admin:
        member = await services.tenancy.add_member(
            access.principal, access.app_id, body.user, body.role
        )
        return MemberView.of(member, with_email=True)
    invitation = await services.invitations.invite(
        access.principal, access.app_id, body.user, body.role
    )
    return JSONResponse(InvitationPublic.of(invitation).model_dump(mode="json"), status_code=202)


@router.patch("/{app_id}/members/{user_id}")
async def set_role(
    user_id: str, body: MemberUpdate, access: AppAdmin, services: ServicesDep
) -> MemberView:
    member = await services.tenancy.set_role(access.principal, access.app_id, user_id, body.role)
    return MemberView.of(member, with_email=True)


@router.delete("/{app_id}/members/{user_id}", status_code=204)
async def remove_member(user_id: str, access: AppAdmin, services: ServicesDep) -> Response:
    await services.tenancy.remove_member(access.principal, access.app_id, user_id)
    return Response(status_code=204)


@router.post("/{app_id}/api-keys", status_code=201)
async def create_api_key(
    body: ApiKeyCreate, access: AppAdmin, services: ServicesDep
) -> ApiKeyCreated:
    """A new API key; its secret `key` is in this answer only (it is stored hashed)."""
    record, secret = await services.tenancy.create_api_key(
        access.principal, access.app_id, body.name, body.role
    )
    return ApiKeyCreated(**ApiKeyPublic.of(record).model_dump(), key=secret)


@router.get("/{app_id}/api-keys")
async def list_api_keys(access: AppAdmin, services: ServicesDep) -> list[ApiKeyPublic]:
    keys = await services.tenancy.list_api_keys(access.principal, access.app_id)
    return [ApiKeyPublic.of(k) for k in keys]


@router.delete("/{app_id}/api-keys/{key_id}", status_code=204)
async def revoke_api_key(key_id: str, access: AppAdmin, services: ServicesDep) -> Response:
    """Revoke a key: it stops working at once."""
    await services.tenancy.revoke_api_key(access.principal, access.app_id, key_id)
    return Response(status_code=204)
