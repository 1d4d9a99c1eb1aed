"""The engine's tables: apps, flows, sessions, runs, steps, calls, interrupts, events.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.Text().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.String(40)
# Rows are found by their primary key, so on SQLite the table *is* the key's b-tree: no
# hidden rowid and no second index holding the id again (halves the size of a step).
COMPACT = {"sqlite_with_rowid": False}


def upgrade() -> None:
    op.create_table(
        "apps",
        # A small number for the app, assigned by the database, stored in every event row
        # instead of the 30-character id (events are most of the database).
        sa.Column("num", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", ID, nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "flows",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("base_path", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("app_id", "name", "version", name="uq_flows_app_name_version"),
        **COMPACT,
    )
    op.create_table(
        "sessions",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("flow_id", ID, sa.ForeignKey("flows.id")),
        sa.Column("user_id", ID),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("state", JSON, nullable=False),
        sa.Column("metadata", JSON),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        **COMPACT,
    )
    op.create_index("ix_sessions_app", "sessions", ["app_id", "created_at"])
    op.create_table(
        "runs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "session_id", ID, sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("flow_id", ID, sa.ForeignKey("flows.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("input", JSON),
        sa.Column("options", JSON),
        sa.Column("progress", JSON),
        sa.Column("output", JSON),
        sa.Column("error", sa.Text),
        sa.Column("fence", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("worker_id", sa.String(80)),
        sa.Column("lease_until", sa.Float),
        sa.Column("steps_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("elapsed", sa.Float, nullable=False, server_default="0"),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("queued_at", sa.Float),
        sa.Column("started_at", sa.Float),
        sa.Column("ended_at", sa.Float),
        **COMPACT,
    )
    # Partial indexes: only the few queued or running runs are indexed, not the history. A
    # claim reads the queued ones in order; the sweeper finds the running ones whose lease ran
    # out. (SQLite uses a partial index only for a query that repeats its WHERE term.)
    queued = sa.text("status = 'queued'")
    op.create_index(
        "ix_runs_queued", "runs", ["queued_at"], sqlite_where=queued, postgresql_where=queued
    )
    leased = sa.text("status = 'running'")
    op.create_index(
        "ix_runs_leased", "runs", ["lease_until"], sqlite_where=leased, postgresql_where=leased
    )
    op.create_index("ix_runs_session", "runs", ["session_id"])
    # One run at a time is active on a session (DESIGN §3.16), enforced by the database so
    # that two workers on PostgreSQL cannot both claim runs of the same session.
    running = sa.text("status = 'running'")
    op.create_index(
        "ux_runs_session_running",
        "runs",
        ["session_id"],
        unique=True,
        sqlite_where=running,
        postgresql_where=running,
    )
    op.create_table(
        "steps",
        sa.Column("run_id", ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        # The step's place in its run; its id (`stp_<run>_<n>`) is derived, not stored.
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("node_id", sa.String(200), nullable=False),
        sa.Column("iteration", sa.Integer, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("output", JSON),
        sa.Column("error", sa.Text),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "n", name="pk_steps"),
        **COMPACT,
    )
    op.create_table(
        "calls",
        sa.Column("run_id", ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("node_id", sa.String(200), nullable=False),
        sa.Column("iteration", sa.Integer, nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("result", JSON),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "node_id", "iteration", "key", name="pk_calls"),
        **COMPACT,
    )
    op.create_table(
        "interrupts",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("run_id", ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("session_id", ID, nullable=False),
        sa.Column("node_id", sa.String(200), nullable=False),
        sa.Column("iteration", sa.Integer, nullable=False),
        sa.Column("call_key", sa.String(300), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("choices", JSON),
        sa.Column("schema", JSON),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answer", JSON),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("answered_at", sa.Float),
        **COMPACT,
    )
    op.create_index("ix_interrupts_run", "interrupts", ["run_id"])
    op.create_table(
        "events",
        sa.Column("app_num", sa.Integer, nullable=False),  # apps.num
        sa.Column("seq", sa.BigInteger, nullable=False),
        # No id column: an event's id is derived from (app_id, seq, ts) (podium.ids.event_id).
        sa.Column("type", sa.String(80), nullable=False),
        sa.Column("session_id", ID),
        sa.Column("run_id", ID),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.PrimaryKeyConstraint("app_num", "seq", name="pk_events"),
        **COMPACT,
    )


def downgrade() -> None:
    for table in ("events", "interrupts", "calls", "steps", "runs", "sessions", "flows", "apps"):
        op.drop_table(table)
