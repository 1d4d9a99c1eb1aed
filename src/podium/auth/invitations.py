"""Members by invitation.

An app's admins (or an admin API key) invite an email, a username or a user id with a role;
the user sees the invitation in `GET /invitations` and accepts or declines it. Inviting never
looks the account up: an unknown name gets the same answer as a known one and is stored the
same way, so the answer tells nothing about which accounts exist, and nobody joins an app
without consenting. Platform admins may still add a user directly (`Tenancy.add_member`).
"""

from __future__ import annotations

import time

from podium.auth.service import normalize_identifier
from podium.auth.tenancy import Principal, Tenancy
from podium.config import Settings
from podium.errors import Forbidden, InvalidInput, NotFound
from podium.storage import invitations
from podium.storage.accounts import MemberRecord, UserRecord
from podium.storage.invitations import InvitationRecord


class Invitations:
    """Invite to an app, list, accept, decline, withdraw."""

    def __init__(self, tenancy: Tenancy, settings: Settings) -> None:
        self.tenancy = tenancy
        self.store = tenancy.store
        self.settings = settings

    async def invite(
        self, principal: Principal, app_id: str, user_ref: str, role: str
    ) -> InvitationRecord:
        """A pending invitation of `user_ref` (email, username or user id); again: renewed."""
        await self.tenancy.check_grant(principal, app_id, role)
        invitee = normalize_identifier(user_ref)
        if not invitee:
            raise InvalidInput("name the user to invite: an email, a username or a user id")
        now = time.time()
        expires = now + self.settings.invitation_days * 86400
        inviter = principal.user_id
        record: InvitationRecord = await self.store.run_script(
            lambda: invitations.invite(app_id, invitee, role, inviter, now, expires)
        )
        return record

    async def list_for_app(self, principal: Principal, app_id: str) -> list[InvitationRecord]:
        await self.tenancy.require(principal, app_id, "admin")
        now = time.time()
        records: list[InvitationRecord] = await self.store.run_read(
            lambda: invitations.list_app_invitations(app_id, now)
        )
        return records

    async def withdraw(self, principal: Principal, app_id: str, invitation_id: str) -> None:
        await self.tenancy.require(principal, app_id, "admin")
        await self.store.run_script(lambda: invitations.withdraw_invitation(app_id, invitation_id))

    async def list_mine(self, principal: Principal) -> list[InvitationRecord]:
        user = await self._user(principal)
        now = time.time()
        records: list[InvitationRecord] = await self.store.run_read(
            lambda: invitations.list_user_invitations(user.id, user.email, user.username, now)
        )
        return records

    async def answer(
        self, principal: Principal, invitation_id: str, *, accept: bool
    ) -> MemberRecord | None:
        """Accept (the membership) or decline (None) one of the caller's invitations."""
        if principal.user_id is None:  # a key is invited to nothing: as for another's id
            raise NotFound(f"invitation {invitation_id!r} does not exist")
        user = await self._user(principal)
        now = time.time()
        member: MemberRecord | None = await self.store.run_script(
            lambda: invitations.answer_invitation(
                invitation_id, user.id, user.email, user.username, accept, now
            )
        )
        return member

    async def _user(self, principal: Principal) -> UserRecord:
        if principal.user_id is None:
            raise Forbidden("an API key has no invitations; use a user's access token")
        return await self.tenancy.auth.get_user(principal.user_id)
