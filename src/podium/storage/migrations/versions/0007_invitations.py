"""Members by invitation: an app's admins invite an email, username or user id; the user
accepts or declines. Logins look usernames up regardless of case (an index on lower(username)).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.String(40)


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        # What the inviter typed, normalized (an email, a lower-case username or a user id):
        # matched against the invitee when they list their invitations, so that inviting
        # does not look the account up (and cannot tell whether it exists).
        sa.Column("invitee", sa.String(320), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("invited_by", ID, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("status", sa.String(16), nullable=False),  # pending|accepted|declined|withdrawn
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_invitations_invitee", "invitations", ["invitee", "status"])
    op.create_index("ix_invitations_app", "invitations", ["app_id", "status"])
    op.create_index("ix_users_username_lower", "users", [sa.text("lower(username)")])


def downgrade() -> None:
    op.drop_index("ix_users_username_lower", "users")
    op.drop_index("ix_invitations_app", "invitations")
    op.drop_index("ix_invitations_invitee", "invitations")
    op.drop_table("invitations")
