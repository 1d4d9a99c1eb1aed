"""Bodies of members, invitations and password changes (`…Create`, `…Public`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from podium.api.schemas import Body, RoleName
from podium.storage.accounts import MemberRecord
from podium.storage.invitations import InvitationRecord


class MemberView(BaseModel):
    """A member of an app; `email` only for the app's admins and owners (null for others)."""

    user_id: str
    email: str | None
    username: str
    role: RoleName
    created_at: float

    @classmethod
    def of(cls, member: MemberRecord, *, with_email: bool) -> MemberView:
        return cls(
            user_id=member.user_id,
            email=member.email if with_email else None,
            username=member.username,
            role=member.role,  # type: ignore[arg-type]
            created_at=member.created_at,
        )


class InvitationPublic(BaseModel):
    """An invitation as the app's admins see it: the invitee as they named it."""

    id: str
    app_id: str
    invitee: str = Field(description="the email, username or user id invited (normalized)")
    role: RoleName
    status: str
    created_at: float
    expires_at: float

    @classmethod
    def of(cls, invitation: InvitationRecord) -> InvitationPublic:
        return cls(
            id=invitation.id,
            app_id=invitation.app_id,
            invitee=invitation.invitee,
            role=invitation.role,  # type: ignore[arg-type]
            status=invitation.status,
            created_at=invitation.created_at,
            expires_at=invitation.expires_at,
        )


class InvitationReceived(BaseModel):
    """An invitation as the invitee sees it: which app, which role, from whom."""

    id: str
    app_id: str
    app_name: str | None
    role: RoleName
    invited_by: str | None = Field(description="the inviter's username (null: an API key)")
    created_at: float
    expires_at: float

    @classmethod
    def of(cls, invitation: InvitationRecord) -> InvitationReceived:
        return cls(
            id=invitation.id,
            app_id=invitation.app_id,
            app_name=invitation.app_name,
            role=invitation.role,  # type: ignore[arg-type]
            invited_by=invitation.invited_by_username,
            created_at=invitation.created_at,
            expires_at=invitation.expires_at,
        )


class PasswordChange(Body):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=8, max_length=1024)
