"""Packs: which apps enabled which pack, and the durable state of the packs' event handlers
(a cursor per handler and app, and the events a handler is retrying or gave up on).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.String(40)
PACK = sa.String(32)
HANDLER = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "pack_enablements",
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("pack", PACK, nullable=False),
        sa.Column("enabled_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("app_id", "pack", name="pk_pack_enablements"),
    )
    op.create_table(
        "pack_handler_cursors",
        sa.Column("pack", PACK, nullable=False),
        sa.Column("handler", HANDLER, nullable=False),
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        # Every event of the app up to this seq is handled (or given up on).
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        # The process working this cursor, until when: one process at a time per cursor.
        sa.Column("owner", sa.String(120)),
        sa.Column("lease_until", sa.Float, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("pack", "handler", "app_id", name="pk_pack_handler_cursors"),
    )
    op.create_table(
        "pack_handler_failures",
        sa.Column("pack", PACK, nullable=False),
        sa.Column("handler", HANDLER, nullable=False),
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event_seq", sa.BigInteger, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(80), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # retrying | failed
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("next_attempt_at", sa.Float),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint(
            "pack", "handler", "app_id", "event_seq", name="pk_pack_handler_failures"
        ),
    )


def downgrade() -> None:
    for table in ("pack_handler_failures", "pack_handler_cursors", "pack_enablements"):
        op.drop_table(table)
