"""Who may do what in which app: principals, roles, apps, members and API keys.

A caller who is not a member of an app is told the app does not exist (404), exactly as for
an app that does not: ids of other tenants are never confirmed.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

from podium.auth.service import AuthService, normalize_identifier
from podium.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from podium.storage import accounts
from podium.storage.accounts import ROLES, ApiKeyRecord, AppRecord, MemberRecord
from podium.storage.store import Store

Role = Literal["owner", "admin", "member", "viewer"]
RANK = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}
KEY_PREFIX = "pk_"
# A key's last_used_at is written at most this often (seconds): not a write per request.
KEY_USE_RESOLUTION = 60.0
LOGGED_OUT = "this login was logged out (or its password changed); log in again"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a user (by access token) or an API key of one app."""

    kind: Literal["user", "api_key"]
    id: str  # the user's id or the key's id
    is_admin: bool = False
    app_id: str | None = None  # an API key's app
    role: str | None = None  # an API key's role in its app
    expires_at: float | None = None  # an access token's expiry
    family: str | None = None  # an access token's login (refresh-token family)

    @property
    def user_id(self) -> str | None:
        return self.id if self.kind == "user" else None

    @property
    def rate_key(self) -> str:
        return f"{self.kind}:{self.id}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Tenancy:
    """Principals and app-scoped access checks, apps, members and API keys."""

    def __init__(self, store: Store, auth: AuthService) -> None:
        self.store = store
        self.auth = auth

    # --- principals -----------------------------------------------------------------

    async def authenticate(self, bearer: str | None, api_key: str | None) -> Principal:
        """The caller of a request; `Unauthorized` when it has no valid credential."""
        if api_key:
            return await self.principal_from_key(api_key)
        if bearer:
            return await self.principal_from_token(bearer)
        raise Unauthorized("send 'Authorization: Bearer <access token>' or 'X-API-Key: <key>'")

    async def principal_from_token(self, token: str) -> Principal:
        claims = self.auth.access_claims(token)
        try:
            user = await self.auth.get_user(str(claims["sub"]))
        except NotFound:
            raise Unauthorized("the user of this token no longer exists") from None
        if await self.auth.access_family_revoked(claims):
            raise Unauthorized(LOGGED_OUT)
        family = claims.get("fam")
        return Principal(
            "user",
            user.id,
            user.is_admin,
            expires_at=float(claims["exp"]),
            family=family if isinstance(family, str) else None,
        )

    async def principal_from_key(self, key: str) -> Principal:
        record: ApiKeyRecord | None = await self.store.run_read(
            lambda: accounts.find_api_key(hash_key(key))
        )
        if record is None:
            raise Unauthorized("the API key is not valid (unknown or revoked)")
        now = time.time()
        if record.last_used_at is None or now - record.last_used_at > KEY_USE_RESOLUTION:
            await self.store.run_script(lambda: accounts.touch_api_key(record.id, now))
        return Principal("api_key", record.id, False, record.app_id, record.role)

    async def recheck(self, principal: Principal) -> None:
        """`Unauthorized` when the credential of an open stream no longer holds: its API key
        was revoked, its user deleted or its login logged out (read now, not remembered)."""
        if principal.kind == "api_key":
            live = await self.store.run_read(lambda: accounts.live_api_key(principal.id))
            if live is None:
                raise Unauthorized("the API key was revoked")
            return
        try:
            await self.auth.get_user(principal.id)
        except NotFound:
            raise Unauthorized("the user was deleted") from None
        family = principal.family
        if family is not None and await self.auth.revoked_families.is_revoked(family, fresh=True):
            raise Unauthorized(LOGGED_OUT)

    async def role_in(self, principal: Principal, app_id: str) -> str:
        """The caller's role in `app_id`; `NotFound` when it has none (or the app is gone)."""
        if principal.kind == "api_key":
            if principal.app_id != app_id:
                raise NotFound(f"app {app_id!r} does not exist")
            return principal.role or "member"
        role: str | None = await self.store.run_read(
            lambda: accounts.get_role(app_id, principal.id)
        )
        if role is None and principal.is_admin:
            app: AppRecord = await self.store.run_read(lambda: accounts.get_app(app_id))
            if app.name != accounts.SHIPPED_APP:
                return "owner"
        if role is None:
            raise NotFound(f"app {app_id!r} does not exist")
        return role

    async def require(self, principal: Principal, app_id: str, least: Role) -> str:
        """The caller's role when it is at least `least`; 404 for outsiders, 403 if too low."""
        role = await self.role_in(principal, app_id)
        if RANK[role] < RANK[least]:
            raise Forbidden(f"this needs the {least} role in the app; you are {role}")
        return role

    # --- apps -----------------------------------------------------------------------

    async def create_app(
        self, principal: Principal, name: str, description: str | None
    ) -> AppRecord:
        if principal.kind != "user":
            raise Forbidden("an API key cannot create apps; log in as a user")
        record: AppRecord = await self.store.run_script(
            lambda: accounts.create_app(name, description, principal.id, time.time())
        )
        return record

    async def list_apps(self, principal: Principal, limit: int, after: str | None) -> list[Any]:
        if principal.kind == "api_key":
            app = await self.get_app(principal, principal.app_id or "")
            return [app] if not after or app.id > after else []
        user = None if principal.is_admin else principal.id
        records: list[AppRecord] = await self.store.run_read(
            lambda: accounts.list_apps(user, limit, after)
        )
        return records

    async def get_app(self, principal: Principal, app_id: str) -> AppRecord:
        role = await self.role_in(principal, app_id)
        record: AppRecord = await self.store.run_read(lambda: accounts.get_app(app_id))
        record.role = role
        return record

    async def update_app(
        self, principal: Principal, app_id: str, changes: dict[str, Any]
    ) -> AppRecord:
        role = await self.require(principal, app_id, "admin")
        record: AppRecord = await self.store.run_script(
            lambda: accounts.update_app(app_id, changes, time.time())
        )
        record.role = role
        return record

    async def delete_app(self, principal: Principal, app_id: str) -> None:
        await self.require(principal, app_id, "owner")
        await self.store.run_script(lambda: accounts.delete_app(app_id))
        self.auth.revocations.notify()

    # --- members --------------------------------------------------------------------

    async def list_members(
        self, principal: Principal, app_id: str
    ) -> tuple[list[MemberRecord], bool]:
        """The app's members, and whether the caller may see their emails (admins and owners
        of the app; members and viewers see usernames only)."""
        role = await self.require(principal, app_id, "viewer")
        records: list[MemberRecord] = await self.store.run_read(
            lambda: accounts.list_members(app_id)
        )
        return records, RANK[role] >= RANK["admin"]

    async def add_member(
        self, principal: Principal, app_id: str, user_ref: str, role: str
    ) -> MemberRecord:
        """Make a user a member at once: platform admins only (others invite,
        `podium.auth.invitations`), since it needs looking the account up."""
        await self.check_grant(principal, app_id, role)
        if not principal.is_admin:
            raise Forbidden("only platform administrators add members directly; invite the user")
        user_ref = user_ref.strip()
        user = await self.store.run_read(lambda: accounts.find_user(normalize_identifier(user_ref)))
        if user is None:
            try:
                user = await self.auth.get_user(user_ref)
            except NotFound:
                raise NotFound(f"no user has the id, email or username {user_ref!r}") from None
        user_id = user.id
        record: MemberRecord = await self.store.run_script(
            lambda: accounts.put_member(app_id, user_id, role, time.time(), create=True)
        )
        return record

    async def set_role(
        self, principal: Principal, app_id: str, user_id: str, role: str
    ) -> MemberRecord:
        await self.check_grant(principal, app_id, role)
        await self._check_outranks(principal, app_id, user_id)
        record: MemberRecord = await self.store.run_script(
            lambda: accounts.put_member(app_id, user_id, role, time.time(), create=False)
        )
        self.auth.revocations.notify()  # a lowered role may end the member's open streams
        return record

    async def remove_member(self, principal: Principal, app_id: str, user_id: str) -> None:
        await self.require(principal, app_id, "admin")
        await self._check_outranks(principal, app_id, user_id)
        await self.store.run_script(lambda: accounts.remove_member(app_id, user_id))
        self.auth.revocations.notify()

    async def _check_outranks(self, principal: Principal, app_id: str, user_id: str) -> None:
        # Without this an admin, who cannot grant the owner role, could demote or remove owners.
        mine = await self.role_in(principal, app_id)
        theirs: str | None = await self.store.run_read(lambda: accounts.get_role(app_id, user_id))
        if theirs is not None and RANK[theirs] > RANK[mine]:
            raise Forbidden(f"an {mine} cannot change or remove an {theirs}; ask an owner")

    async def check_grant(self, principal: Principal, app_id: str, role: str) -> None:
        if role not in ROLES:
            raise InvalidInput(f"role {role!r} is unknown; use one of {', '.join(ROLES)}")
        mine = await self.require(principal, app_id, "admin")
        if RANK[role] > RANK[mine]:
            raise Forbidden(f"an {mine} cannot grant the {role} role")

    # --- API keys -------------------------------------------------------------------

    async def create_api_key(
        self, principal: Principal, app_id: str, name: str, role: str
    ) -> tuple[ApiKeyRecord, str]:
        """A new key of the app and its secret, which is shown this once and stored hashed."""
        await self.check_grant(principal, app_id, role)
        if role == "owner":
            raise InvalidInput("an API key's role is admin, member or viewer")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        created_by = principal.user_id
        record: ApiKeyRecord = await self.store.run_script(
            lambda: accounts.create_api_key(
                app_id, name, secret[:10], hash_key(secret), role, created_by, time.time()
            )
        )
        return record, secret

    async def list_api_keys(self, principal: Principal, app_id: str) -> list[ApiKeyRecord]:
        await self.require(principal, app_id, "admin")
        records: list[ApiKeyRecord] = await self.store.run_read(
            lambda: accounts.list_api_keys(app_id)
        )
        return records

    async def revoke_api_key(self, principal: Principal, app_id: str, key_id: str) -> None:
        await self.require(principal, app_id, "admin")
        await self.store.run_script(lambda: accounts.revoke_api_key(app_id, key_id, time.time()))
        self.auth.revocations.notify()
