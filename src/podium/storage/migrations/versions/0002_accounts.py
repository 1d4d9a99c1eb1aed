"""Accounts and tenancy: users, refresh-token families, app members, API keys.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(40)


def upgrade() -> None:
    # Plain ADD COLUMN: SQLite supports it without rebuilding the table others refer to.
    op.add_column("apps", sa.Column("description", sa.Text))
    op.add_column("apps", sa.Column("updated_at", sa.Float))
    # Server-wide values made once, such as the token-signing key when none is configured.
    op.create_table(
        "server_meta",
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", ID, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("username", sa.String(80), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "refresh_tokens",
        # The token's `jti`; a token is one link of its family's chain of rotations.
        sa.Column("id", ID, primary_key=True),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("family_id", ID, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # active | spent | revoked
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_refresh_tokens_family", "refresh_tokens", ["family_id"])
    op.create_table(
        "memberships",
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("app_id", "user_id", name="pk_memberships"),
    )
    op.create_index("ix_memberships_user", "memberships", ["user_id"])
    op.create_table(
        "api_keys",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_by", ID),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_used_at", sa.Float),
        sa.Column("revoked_at", sa.Float),
    )
    op.create_index("ix_api_keys_app", "api_keys", ["app_id"])
    op.create_index("ix_sessions_user", "sessions", ["app_id", "user_id"])


def downgrade() -> None:
    op.drop_index("ix_sessions_user", "sessions")
    for table in ("api_keys", "memberships", "refresh_tokens", "users", "server_meta"):
        op.drop_table(table)
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("description")
