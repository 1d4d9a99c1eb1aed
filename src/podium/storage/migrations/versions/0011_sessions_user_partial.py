"""Sessions are indexed by user only when they have one (`ix_sessions_user` held an entry
for every session, most of which have no user: those of flows started by an API key or the
embedded engine). Lookups by user (`user_id = ?`) use the partial index as they used the
whole one.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_sessions_user", "sessions")
    has_user = sa.text("user_id IS NOT NULL")
    op.create_index(
        "ix_sessions_user",
        "sessions",
        ["app_id", "user_id"],
        sqlite_where=has_user,
        postgresql_where=has_user,
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_user", "sessions")
    op.create_index("ix_sessions_user", "sessions", ["app_id", "user_id"])
