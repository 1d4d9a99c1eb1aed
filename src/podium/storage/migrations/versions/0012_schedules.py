"""Schedules (issue 19): cron expressions per app that start a flow with an input.

`next_fire_at` is the next due time (a Unix time, None while paused); a process fires a
schedule by moving it on with a conditional update (`... WHERE next_fire_at = <the due
time it read>`), so that each due time fires once however many processes sweep. A schedule's
runs are runs of one session (`session_id`, made at the first fire), which is how the
overlap policies (skip, enqueue, cancel_previous) see the previous run.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.String(40)
JSON = sa.Text().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("flow", sa.String(200), nullable=False),
        # The app whose flow it is: the schedule's own, or the server's shipped flows.
        sa.Column("flow_app_id", ID, nullable=False),
        sa.Column("input", JSON, nullable=False),
        sa.Column("cron", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("overlap", sa.String(20), nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("next_fire_at", sa.Float),
        sa.Column("last_fire_at", sa.Float),
        sa.Column("last_run_id", ID),
        sa.Column("last_outcome", sa.String(20)),
        sa.Column("session_id", ID),
        sa.Column("fires", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("app_id", "name", name="uq_schedules_app_name"),
    )
    op.create_index("ix_schedules_due", "schedules", ["next_fire_at"])


def downgrade() -> None:
    op.drop_index("ix_schedules_due", "schedules")
    op.drop_table("schedules")
