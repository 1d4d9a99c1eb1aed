"""Transactions of accounts and tenancy: users, refresh tokens, apps, members, API keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podium.errors import Conflict, NotFound
from podium.ids import new_id
from podium.storage.script import Row, Script, all_rows, execute, one

ROLES = ("owner", "admin", "member", "viewer")
# The app that holds the flows shipped with the server: no one is a member, no one sees it.
SHIPPED_APP = "podium-shipped"


@dataclass(slots=True)
class UserRecord:
    id: str
    email: str
    username: str
    password_hash: str
    is_admin: bool
    created_at: float


@dataclass(slots=True)
class AppRecord:
    id: str
    name: str
    description: str | None
    created_at: float
    updated_at: float | None
    role: str | None = None  # the caller's role, when read for a member
    default_model: str | None = None
    embedding_model: str | None = None


@dataclass(slots=True)
class MemberRecord:
    app_id: str
    user_id: str
    email: str
    username: str
    role: str
    created_at: float


@dataclass(slots=True)
class ApiKeyRecord:
    id: str
    app_id: str
    name: str
    prefix: str
    role: str
    created_by: str | None
    created_at: float
    last_used_at: float | None
    revoked_at: float | None


def _user(row: Row) -> UserRecord:
    return UserRecord(
        row["id"],
        row["email"],
        row["username"],
        row["password_hash"],
        bool(row["is_admin"]),
        row["created_at"],
    )


def _app(row: Row, role: str | None = None) -> AppRecord:
    return AppRecord(
        row["id"],
        row["name"],
        row["description"],
        row["created_at"],
        row["updated_at"],
        role,
        row["default_model"],
        row["embedding_model"],
    )


def _key(row: Row) -> ApiKeyRecord:
    return ApiKeyRecord(
        row["id"],
        row["app_id"],
        row["name"],
        row["prefix"],
        row["role"],
        row["created_by"],
        row["created_at"],
        row["last_used_at"],
        row["revoked_at"],
    )


# --- users ----------------------------------------------------------------------------


def create_user(
    email: str, username: str, password_hash: str, is_admin: bool, now: float
) -> Script:
    # Usernames are unique regardless of case: a login lowers what it is given.
    taken = yield one(
        "SELECT email, username FROM users WHERE email = ? OR lower(username) = ?",
        email,
        username.lower(),
    )
    if taken is not None:
        which = "email" if taken["email"] == email else "username"
        raise Conflict(
            f"a user with this {which} already exists; choose another {which}",
            details={"field": which},
        )
    user_id = new_id("usr")
    yield execute(
        "INSERT INTO users (id, email, username, password_hash, is_admin, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        user_id,
        email,
        username,
        password_hash,
        is_admin,
        now,
    )
    return UserRecord(user_id, email, username, password_hash, is_admin, now)


def get_user(user_id: str) -> Script:
    row = yield one("SELECT * FROM users WHERE id = ?", user_id)
    if row is None:
        raise NotFound(f"user {user_id!r} does not exist")
    return _user(row)


def find_user(identifier: str) -> Script:
    """The user whose email or username (in any case) is `identifier`, or None.

    `identifier` is normalized already (`podium.auth.service.normalize_identifier`)."""
    row = yield one(
        "SELECT * FROM users WHERE email = ? OR lower(username) = ?", identifier, identifier
    )
    return None if row is None else _user(row)


def list_users(limit: int, after: str | None) -> Script:
    rows = yield all_rows(
        "SELECT * FROM users WHERE id > ? ORDER BY id LIMIT ?", after or "", limit
    )
    return [_user(row) for row in rows]


def delete_user(user_id: str) -> Script:
    changed = yield execute("DELETE FROM users WHERE id = ?", user_id)
    if not changed:
        raise NotFound(f"user {user_id!r} does not exist")
    return None


def set_password(user_id: str, password_hash: str) -> Script:
    """Set the user's password hash and revoke every login of the user; the revoked families."""
    changed = yield execute(
        "UPDATE users SET password_hash = ? WHERE id = ?", password_hash, user_id
    )
    if not changed:
        raise NotFound(f"user {user_id!r} does not exist")
    rows = yield all_rows(
        "SELECT DISTINCT family_id FROM refresh_tokens WHERE user_id = ? AND status <> 'revoked'",
        user_id,
    )
    yield execute(
        "UPDATE refresh_tokens SET status = 'revoked' WHERE user_id = ? AND status <> 'revoked'",
        user_id,
    )
    return [row["family_id"] for row in rows]


def count_admins() -> Script:
    row = yield one("SELECT COUNT(*) AS n FROM users WHERE is_admin = ?", True)
    return int(row["n"])


FIRST_ADMIN_KEY = "first_admin"
SETUP_CLOSED = (
    "this server has an administrator already; log in, or ask an administrator for an "
    "account (first-run setup is only for a server without one)"
)


def create_first_admin(email: str, username: str, password_hash: str, now: float) -> Script:
    """The first-run administrator, or `Conflict` when there is an administrator already.

    Two first runs at once must not both succeed: each first locks one row of `server_meta`
    (made if missing), so the second waits until the first commits and then, in a statement
    of its own (a fresh snapshot under PostgreSQL's read committed; SQLite writes one
    transaction at a time anyway), counts the administrator the first made."""
    yield execute(
        "INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
        FIRST_ADMIN_KEY,
        "",
    )
    yield execute("UPDATE server_meta SET value = ? WHERE key = ?", username, FIRST_ADMIN_KEY)
    if (yield from count_admins()) > 0:
        raise Conflict(SETUP_CLOSED)
    record: UserRecord = yield from create_user(email, username, password_hash, True, now)
    return record


def count_users() -> Script:
    row = yield one("SELECT COUNT(*) AS n FROM users")
    return int(row["n"])


# --- refresh tokens -------------------------------------------------------------------


def insert_refresh_token(
    token_id: str, user_id: str, family_id: str, expires_at: float, now: float
) -> Script:
    yield execute(
        "INSERT INTO refresh_tokens (id, user_id, family_id, status, expires_at, created_at) "
        "VALUES (?, ?, ?, 'active', ?, ?)",
        token_id,
        user_id,
        family_id,
        expires_at,
        now,
    )
    return None


def spend_refresh_token(token_id: str, now: float) -> Script:
    """Spend an active token: returns `(user_id, family_id)`, or `(None, family_id)` when it was
    already spent or revoked, in which case the whole family is revoked (reuse detection)."""
    row = yield one("SELECT * FROM refresh_tokens WHERE id = ?", token_id)
    if row is None:
        return None, None
    changed = yield execute(
        "UPDATE refresh_tokens SET status = 'spent' WHERE id = ? AND status = 'active' "
        "AND expires_at > ?",
        token_id,
        now,
    )
    if not changed:
        yield execute(
            "UPDATE refresh_tokens SET status = 'revoked' WHERE family_id = ?", row["family_id"]
        )
        return None, row["family_id"]
    return row["user_id"], row["family_id"]


def revoke_family(token_id: str) -> Script:
    """Revoke the family of `token_id`; its id (None for an unknown token)."""
    row = yield one("SELECT family_id FROM refresh_tokens WHERE id = ?", token_id)
    if row is None:
        return None
    yield execute(
        "UPDATE refresh_tokens SET status = 'revoked' WHERE family_id = ?", row["family_id"]
    )
    return row["family_id"]


def family_revoked(family_id: str) -> Script:
    """Whether the login `family_id` was logged out (or its reuse detected)."""
    row = yield one(
        "SELECT 1 AS revoked FROM refresh_tokens WHERE family_id = ? AND status = 'revoked' "
        "LIMIT 1",
        family_id,
    )
    return row is not None


# --- apps -----------------------------------------------------------------------------


def create_app(name: str, description: str | None, owner_id: str | None, now: float) -> Script:
    taken = yield one("SELECT id FROM apps WHERE name = ?", name)
    if taken is not None:
        raise Conflict(
            f"an app named {name!r} already exists; app names are unique on a server",
            details={"field": "name"},
        )
    app_id = new_id("app")
    yield execute(
        "INSERT INTO apps (id, name, description, last_seq, created_at, updated_at) "
        "VALUES (?, ?, ?, 0, ?, ?)",
        app_id,
        name,
        description,
        now,
        now,
    )
    if owner_id is not None:
        yield execute(
            "INSERT INTO memberships (app_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
            app_id,
            owner_id,
            "owner",
            now,
        )
    return AppRecord(app_id, name, description, now, now, "owner" if owner_id else None)


def get_app(app_id: str) -> Script:
    row = yield one("SELECT * FROM apps WHERE id = ?", app_id)
    if row is None:
        raise NotFound(f"app {app_id!r} does not exist")
    return _app(row)


def list_apps(user_id: str | None, limit: int, after: str | None) -> Script:
    """The apps `user_id` is a member of (every app when `user_id` is None), with roles."""
    if user_id is None:
        rows = yield all_rows(
            "SELECT a.*, NULL AS role FROM apps a WHERE a.id > ? AND a.name <> ? "
            "ORDER BY a.id LIMIT ?",
            after or "",
            SHIPPED_APP,
            limit,
        )
    else:
        rows = yield all_rows(
            "SELECT a.*, m.role AS role FROM apps a JOIN memberships m ON m.app_id = a.id "
            "WHERE m.user_id = ? AND a.id > ? ORDER BY a.id LIMIT ?",
            user_id,
            after or "",
            limit,
        )
    return [_app(row, row["role"]) for row in rows]


def update_app(app_id: str, changes: dict[str, Any], now: float) -> Script:
    if "name" in changes:
        taken = yield one("SELECT id FROM apps WHERE name = ? AND id <> ?", changes["name"], app_id)
        if taken is not None:
            raise Conflict(f"an app named {changes['name']!r} already exists")
    for column in ("name", "description", "default_model", "embedding_model"):
        if column in changes:
            yield execute(
                f"UPDATE apps SET {column} = ?, updated_at = ? WHERE id = ?",
                changes[column],
                now,
                app_id,
            )
    return (yield from get_app(app_id))


def delete_app(app_id: str) -> Script:
    """Delete an app and everything in it (its events too, which have no foreign key)."""
    row = yield one("SELECT num FROM apps WHERE id = ?", app_id)
    if row is None:
        raise NotFound(f"app {app_id!r} does not exist")
    yield execute("DELETE FROM events WHERE app_num = ?", row["num"])
    for table in (
        "interrupts",
        "runs",
        "sessions",
        "flows",
        "api_keys",
        "memberships",
        "invitations",
    ):
        yield execute(f"DELETE FROM {table} WHERE app_id = ?", app_id)
    yield execute("DELETE FROM apps WHERE id = ?", app_id)
    return None


# --- members --------------------------------------------------------------------------


def get_role(app_id: str, user_id: str) -> Script:
    row = yield one(
        "SELECT role FROM memberships WHERE app_id = ? AND user_id = ?", app_id, user_id
    )
    return None if row is None else row["role"]


def list_members(app_id: str) -> Script:
    rows = yield all_rows(
        "SELECT m.app_id, m.user_id, u.email, u.username, m.role, m.created_at "
        "FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.app_id = ? "
        "ORDER BY m.created_at, m.user_id",
        app_id,
    )
    return [
        MemberRecord(
            r["app_id"], r["user_id"], r["email"], r["username"], r["role"], r["created_at"]
        )
        for r in rows
    ]


def put_member(app_id: str, user_id: str, role: str, now: float, *, create: bool) -> Script:
    """Add a member (`create`) or change a member's role; the last owner cannot be demoted."""
    current = yield one(
        "SELECT role FROM memberships WHERE app_id = ? AND user_id = ?", app_id, user_id
    )
    if create:
        if current is not None:
            raise Conflict(
                f"user {user_id} is already a member ({current['role']}); PATCH the role"
            )
        yield execute(
            "INSERT INTO memberships (app_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
            app_id,
            user_id,
            role,
            now,
        )
    else:
        if current is None:
            raise NotFound(f"user {user_id!r} is not a member of this app")
        if current["role"] == "owner" and role != "owner":
            yield from _keep_an_owner(app_id)
        yield execute(
            "UPDATE memberships SET role = ? WHERE app_id = ? AND user_id = ?",
            role,
            app_id,
            user_id,
        )
    members = yield from list_members(app_id)
    return next(m for m in members if m.user_id == user_id)


def _keep_an_owner(app_id: str) -> Script:
    row = yield one(
        "SELECT COUNT(*) AS n FROM memberships WHERE app_id = ? AND role = 'owner'", app_id
    )
    if int(row["n"]) <= 1:
        raise Conflict("an app keeps at least one owner; make another member owner first")
    return None


def remove_member(app_id: str, user_id: str) -> Script:
    current = yield one(
        "SELECT role FROM memberships WHERE app_id = ? AND user_id = ?", app_id, user_id
    )
    if current is None:
        raise NotFound(f"user {user_id!r} is not a member of this app")
    if current["role"] == "owner":
        yield from _keep_an_owner(app_id)
    yield execute("DELETE FROM memberships WHERE app_id = ? AND user_id = ?", app_id, user_id)
    return None


# --- API keys -------------------------------------------------------------------------


def create_api_key(
    app_id: str,
    name: str,
    prefix: str,
    key_hash: str,
    role: str,
    created_by: str | None,
    now: float,
) -> Script:
    key_id = new_id("key")
    yield execute(
        "INSERT INTO api_keys (id, app_id, name, prefix, key_hash, role, created_by, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        key_id,
        app_id,
        name,
        prefix,
        key_hash,
        role,
        created_by,
        now,
    )
    return ApiKeyRecord(key_id, app_id, name, prefix, role, created_by, now, None, None)


def find_api_key(key_hash: str) -> Script:
    """The live key with this hash, or None (revoked keys are not found)."""
    row = yield one("SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL", key_hash)
    return None if row is None else _key(row)


def live_api_key(key_id: str) -> Script:
    """The key `key_id` while it is not revoked, or None."""
    row = yield one("SELECT * FROM api_keys WHERE id = ? AND revoked_at IS NULL", key_id)
    return None if row is None else _key(row)


def touch_api_key(key_id: str, now: float) -> Script:
    yield execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", now, key_id)
    return None


def list_api_keys(app_id: str) -> Script:
    rows = yield all_rows("SELECT * FROM api_keys WHERE app_id = ? ORDER BY created_at, id", app_id)
    return [_key(row) for row in rows]


def revoke_api_key(app_id: str, key_id: str, now: float) -> Script:
    changed = yield execute(
        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND app_id = ? AND revoked_at IS NULL",
        now,
        key_id,
        app_id,
    )
    if not changed:
        raise NotFound(f"API key {key_id!r} does not exist")
    return None


def server_value(key: str, default: str) -> Script:
    """The server-wide value `key`, set to `default` the first time it is asked for."""
    row = yield one("SELECT value FROM server_meta WHERE key = ?", key)
    if row is not None:
        return row["value"]
    yield execute(
        "INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING", key, default
    )
    row = yield one("SELECT value FROM server_meta WHERE key = ?", key)
    return row["value"]
