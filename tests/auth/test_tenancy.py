"""Tenancy over a real store: outsiders are told apps do not exist, keys act in one app only,
roles rank, platform admins own every app but the shipped one."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from podium.auth.invitations import Invitations
from podium.auth.service import AuthService
from podium.auth.tenancy import Principal, Tenancy, hash_key
from podium.config import Settings
from podium.errors import Conflict, Forbidden, NotFound, Unauthorized
from podium.storage import accounts
from podium.storage.accounts import SHIPPED_APP, MemberRecord
from podium.storage.script import Script, all_rows
from podium.storage.store import Store


@dataclass
class World:
    tenancy: Tenancy
    alice: Principal  # owns app a
    bob: Principal  # owns app b
    root: Principal  # platform admin, member of nothing
    a: str
    b: str
    invitations: Invitations

    async def join(
        self, inviter: Principal, app_id: str, ref: str, who: Principal, role: str
    ) -> MemberRecord | None:
        """`inviter` invites `ref` (an email or username of `who`), and `who` accepts."""
        invitation = await self.invitations.invite(inviter, app_id, ref, role)
        return await self.invitations.answer(who, invitation.id, accept=True)


@pytest.fixture
async def world(store: Store, settings: Settings) -> AsyncIterator[World]:
    auth = AuthService(store, settings)
    await auth.open()
    tenancy = Tenancy(store, auth)
    principals = []
    for name, is_admin in (("alice", False), ("bob", False), ("root", True)):
        # Straight into the table: no one logs in here, so no Argon2 hashing to wait for.
        user = await store.run_script(
            lambda name=name, is_admin=is_admin: accounts.create_user(  # type: ignore[misc]
                f"{name}@example.com", name, "unused-hash", is_admin, time.time()
            )
        )
        principals.append(Principal("user", user.id, user.is_admin))
    alice, bob, root = principals
    a = (await tenancy.create_app(alice, "a", None)).id
    b = (await tenancy.create_app(bob, "b", None)).id
    yield World(tenancy, alice, bob, root, a, b, Invitations(tenancy, settings))


async def test_an_outsider_is_told_the_app_does_not_exist(world: World) -> None:
    for least in ("viewer", "member", "admin", "owner"):
        with pytest.raises(NotFound, match="does not exist"):
            await world.tenancy.require(world.bob, world.a, least)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await world.tenancy.require(world.bob, "app_no_such_app", "viewer")


async def test_roles_rank_viewer_member_admin_owner(world: World) -> None:
    t = world.tenancy
    await world.join(world.alice, world.a, "bob@example.com", world.bob, "viewer")
    assert await t.require(world.bob, world.a, "viewer") == "viewer"
    with pytest.raises(Forbidden, match="member role"):
        await t.require(world.bob, world.a, "member")
    await t.set_role(world.alice, world.a, world.bob.id, "admin")
    assert await t.require(world.bob, world.a, "admin") == "admin"
    with pytest.raises(Forbidden):
        await t.require(world.bob, world.a, "owner")


async def test_an_admin_cannot_grant_change_or_remove_an_owner(world: World) -> None:
    t = world.tenancy
    await world.join(world.alice, world.a, "bob", world.bob, "admin")
    with pytest.raises(Forbidden):
        await t.set_role(world.bob, world.a, world.bob.id, "owner")
    with pytest.raises(Forbidden):
        await t.set_role(world.bob, world.a, world.alice.id, "member")
    with pytest.raises(Forbidden):
        await t.remove_member(world.bob, world.a, world.alice.id)
    with pytest.raises(Forbidden):
        await t.create_api_key(world.bob, world.a, "k", "owner")
    assert await t.require(world.alice, world.a, "owner") == "owner"


async def test_the_last_owner_stays(world: World) -> None:
    t = world.tenancy
    with pytest.raises(Conflict, match="at least one owner"):
        await t.set_role(world.alice, world.a, world.alice.id, "admin")
    with pytest.raises(Conflict, match="at least one owner"):
        await t.remove_member(world.alice, world.a, world.alice.id)
    await world.join(world.alice, world.a, "bob", world.bob, "owner")
    await t.remove_member(world.bob, world.a, world.alice.id)  # two owners: one may go
    with pytest.raises(NotFound):
        await t.require(world.alice, world.a, "viewer")


async def test_a_platform_admin_owns_every_app_but_the_shipped_one(
    world: World, store: Store
) -> None:
    assert await world.tenancy.require(world.root, world.a, "owner") == "owner"
    shipped = await store.ensure_app(SHIPPED_APP)
    with pytest.raises(NotFound):
        await world.tenancy.require(world.root, shipped, "viewer")
    listed = [app.id for app in await world.tenancy.list_apps(world.root, 50, None)]
    assert sorted(listed) == sorted([world.a, world.b])


def _api_key_rows() -> Script:
    rows = yield all_rows("SELECT * FROM api_keys")
    return [dict(row) for row in rows]


async def test_an_api_key_acts_in_its_app_only_and_is_stored_hashed(
    world: World, store: Store
) -> None:
    t = world.tenancy
    record, secret = await t.create_api_key(world.alice, world.a, "ci", "viewer")
    assert secret.startswith("pk_")
    key = await t.authenticate(None, secret)
    assert (key.kind, key.app_id, key.user_id) == ("api_key", world.a, None)
    assert await t.role_in(key, world.a) == "viewer"
    with pytest.raises(NotFound):
        await t.role_in(key, world.b)
    with pytest.raises(Forbidden):
        await t.create_app(key, "made-by-a-key", None)

    rows = await store.run_read(_api_key_rows)
    assert [row["key_hash"] for row in rows] == [hash_key(secret)]
    assert not any(secret in str(value) for row in rows for value in row.values())

    await t.revoke_api_key(world.alice, world.a, record.id)
    with pytest.raises(Unauthorized, match="revoked"):
        await t.authenticate(None, secret)
    with pytest.raises(NotFound):  # revoking another app's key: not found, not revoked
        await t.revoke_api_key(world.bob, world.b, record.id)


async def test_no_credential_or_a_bad_one_is_unauthorized(world: World) -> None:
    with pytest.raises(Unauthorized):
        await world.tenancy.authenticate(None, None)
    with pytest.raises(Unauthorized):
        await world.tenancy.authenticate(None, "pk_made_up")
    with pytest.raises(Unauthorized):
        await world.tenancy.authenticate("not-a-token", None)


async def test_only_a_platform_admin_adds_a_member_without_an_invitation(world: World) -> None:
    t = world.tenancy
    with pytest.raises(Forbidden, match="invite the user"):
        await t.add_member(world.alice, world.a, "bob", "viewer")
    with pytest.raises(NotFound):
        await t.require(world.bob, world.a, "viewer")
    member = await t.add_member(world.root, world.a, "  BOB@Example.com ", "viewer")
    assert member.user_id == world.bob.id
    assert await t.require(world.bob, world.a, "viewer") == "viewer"
