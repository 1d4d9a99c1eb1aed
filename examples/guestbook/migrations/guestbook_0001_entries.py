"""The guestbook's entries.

Revision ID: guestbook_0001
Revises: (none: the first revision of the pack's own branch)
"""

import sqlalchemy as sa
from alembic import op

revision = "guestbook_0001"
down_revision = None
branch_labels = ("guestbook",)
depends_on = "0001"  # the core's apps table

ID = sa.String(40)


def upgrade() -> None:
    op.create_table(
        "guestbook_entries",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("greeting", sa.Text),
        sa.Column("handled", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_guestbook_entries_app", "guestbook_entries", ["app_id", "created_at"])


def downgrade() -> None:
    op.drop_table("guestbook_entries")
