"""A smaller log (issue 17): `node.completed` may be stored as a reference to its step.

`events.step`: the number of the step (of the event's run) that holds the rest of a
`node.completed` event, which the log then stores with `{}` as data and no session id
(`podium.storage.event_refs`); every event written before, and every other event, has none
and reads as it is.

`ix_sessions_user` indexes only sessions that have a user (it held an entry for every
session, most of which have none: those started by an API key or the embedded engine).
Lookups by user (`user_id = ?`) use the partial index as they used the whole one.

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
    op.add_column("events", sa.Column("step", sa.Integer))
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
    with op.batch_alter_table("events") as batch:
        batch.drop_column("step")
