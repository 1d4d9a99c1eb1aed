"""Invitations to apps: the app's admins list and withdraw them (`{app}/invitations`); the
invited user lists theirs and accepts or declines (`/invitations`). Inviting is
`POST {app}/members` (api/routes/apps.py)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from podium.api.account_schemas import InvitationPublic, InvitationReceived, MemberView
from podium.api.deps import AppAdmin, CurrentPrincipal, ServicesDep

router = APIRouter(tags=["apps"])


@router.get("/apps/{app_id}/invitations")
async def list_app_invitations(access: AppAdmin, services: ServicesDep) -> list[InvitationPublic]:
    """The app's open invitations (pending and not expired)."""
    records = await services.invitations.list_for_app(access.principal, access.app_id)
    return [InvitationPublic.of(r) for r in records]


@router.delete("/apps/{app_id}/invitations/{invitation_id}", status_code=204)
async def withdraw_invitation(
    invitation_id: str, access: AppAdmin, services: ServicesDep
) -> Response:
    await services.invitations.withdraw(access.principal, access.app_id, invitation_id)
    return Response(status_code=204)


@router.get("/invitations")
async def my_invitations(
    principal: CurrentPrincipal, services: ServicesDep
) -> list[InvitationReceived]:
    """The caller's open invitations, by their email, username or id."""
    records = await services.invitations.list_mine(principal)
    return [InvitationReceived.of(r) for r in records]


@router.post("/invitations/{invitation_id}/accept")
async def accept_invitation(
    invitation_id: str, principal: CurrentPrincipal, services: ServicesDep
) -> MemberView:
    """Join the app with the invited role; 409 when already answered or expired."""
    member = await services.invitations.answer(principal, invitation_id, accept=True)
    assert member is not None
    return MemberView.of(member, with_email=True)


@router.post("/invitations/{invitation_id}/decline", status_code=204)
async def decline_invitation(
    invitation_id: str, principal: CurrentPrincipal, services: ServicesDep
) -> Response:
    await services.invitations.answer(principal, invitation_id, accept=False)
    return Response(status_code=204)
