"""Fair claims: a run waiting out a retry back-off is queued with a not-before time
(`runs.available_at`) instead of holding a worker slot, and a partial index of the runs that
hold a slot (`running`, `pausing`) by app, which the claim counts to cap each app's share.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("available_at", sa.Float))
    # The claim repeats this WHERE term word for word: SQLite uses a partial index only then.
    busy = sa.text("status IN ('running', 'pausing')")
    op.create_index("ix_runs_busy", "runs", ["app_id"], sqlite_where=busy, postgresql_where=busy)


def downgrade() -> None:
    op.drop_index("ix_runs_busy", "runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("available_at")
