"""Transactions of invitations to apps: invite, list (the app's, the invitee's), accept,
decline, withdraw.

An invitation names its invitee as the inviter typed it (normalized): an email, a username or
a user id. Nothing looks the account up when inviting; the invitee finds the invitation when
they list theirs, by any of their three names.
"""

from __future__ import annotations

from dataclasses import dataclass

from podium.errors import Conflict, NotFound
from podium.ids import new_id
from podium.storage.accounts import MemberRecord, put_member
from podium.storage.script import Row, Script, all_rows, execute, one


@dataclass(slots=True)
class InvitationRecord:
    id: str
    app_id: str
    invitee: str
    role: str
    invited_by: str | None
    status: str
    created_at: float
    expires_at: float
    app_name: str | None = None  # for the invitee's list
    invited_by_username: str | None = None


def _invitation(row: Row) -> InvitationRecord:
    keys = set(row.keys())
    return InvitationRecord(
        row["id"],
        row["app_id"],
        row["invitee"],
        row["role"],
        row["invited_by"],
        row["status"],
        row["created_at"],
        row["expires_at"],
        row["app_name"] if "app_name" in keys else None,
        row["invited_by_username"] if "invited_by_username" in keys else None,
    )


def invite(
    app_id: str, invitee: str, role: str, invited_by: str | None, now: float, expires_at: float
) -> Script:
    """A pending invitation of `invitee` (normalized) to the app; inviting again renews it."""
    member = yield one(
        "SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id "
        "WHERE m.app_id = ? AND (lower(u.id) = ? OR u.email = ? OR lower(u.username) = ?)",
        app_id,
        invitee,
        invitee,
        invitee,
    )
    if member is not None:
        raise Conflict(
            f"{invitee!r} is already a member of this app ({member['role']}); PATCH the role",
            details={"field": "user"},
        )
    pending = yield one(
        "SELECT id FROM invitations WHERE app_id = ? AND invitee = ? AND status = 'pending'",
        app_id,
        invitee,
    )
    if pending is not None:
        invitation_id = pending["id"]
        yield execute(
            "UPDATE invitations SET role = ?, invited_by = ?, created_at = ?, expires_at = ? "
            "WHERE id = ?",
            role,
            invited_by,
            now,
            expires_at,
            invitation_id,
        )
    else:
        invitation_id = new_id("inv")
        yield execute(
            "INSERT INTO invitations (id, app_id, invitee, role, invited_by, status, created_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
            invitation_id,
            app_id,
            invitee,
            role,
            invited_by,
            now,
            expires_at,
        )
    return InvitationRecord(
        invitation_id, app_id, invitee, role, invited_by, "pending", now, expires_at
    )


def list_app_invitations(app_id: str, now: float) -> Script:
    """The app's open invitations (pending, not expired), oldest first."""
    rows = yield all_rows(
        "SELECT * FROM invitations WHERE app_id = ? AND status = 'pending' AND expires_at > ? "
        "ORDER BY created_at, id",
        app_id,
        now,
    )
    return [_invitation(row) for row in rows]


def _names(user_id: str, email: str, username: str) -> tuple[str, str, str]:
    return user_id.lower(), email, username.lower()


def list_user_invitations(user_id: str, email: str, username: str, now: float) -> Script:
    """The open invitations whose invitee is this user by id, email or username."""
    rows = yield all_rows(
        "SELECT i.*, a.name AS app_name, u.username AS invited_by_username "
        "FROM invitations i JOIN apps a ON a.id = i.app_id "
        "LEFT JOIN users u ON u.id = i.invited_by "
        "WHERE i.invitee IN (?, ?, ?) AND i.status = 'pending' AND i.expires_at > ? "
        "ORDER BY i.created_at, i.id",
        *_names(user_id, email, username),
        now,
    )
    return [_invitation(row) for row in rows]


def answer_invitation(
    invitation_id: str, user_id: str, email: str, username: str, accept: bool, now: float
) -> Script:
    """Accept (the user becomes a member with the invited role) or decline an invitation of
    this user. Another user's invitation is not found, as one that does not exist."""
    row = yield one(
        "SELECT * FROM invitations WHERE id = ? AND invitee IN (?, ?, ?)",
        invitation_id,
        *_names(user_id, email, username),
    )
    if row is None:
        raise NotFound(f"invitation {invitation_id!r} does not exist")
    if row["status"] != "pending":
        raise Conflict(f"this invitation was already {row['status']}")
    if row["expires_at"] <= now:
        raise Conflict("this invitation has expired; ask the app's admins for a new one")
    yield execute(
        "UPDATE invitations SET status = ? WHERE id = ?",
        "accepted" if accept else "declined",
        invitation_id,
    )
    if not accept:
        return None
    member: MemberRecord = yield from put_member(
        row["app_id"], user_id, row["role"], now, create=True
    )
    return member


def withdraw_invitation(app_id: str, invitation_id: str) -> Script:
    changed = yield execute(
        "UPDATE invitations SET status = 'withdrawn' WHERE id = ? AND app_id = ? "
        "AND status = 'pending'",
        invitation_id,
        app_id,
    )
    if not changed:
        raise NotFound(f"invitation {invitation_id!r} does not exist (or is no longer pending)")
    return None
