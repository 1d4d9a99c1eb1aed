"""Interactive artifacts, shared memory, agent messages and workflow graphs (gates):
artifacts with their versions
(each version's patch) and the sessions they are attached to; questions that wait for an
artifact action (an interrupt of kind `action`); scoped key/value memory with expiry;
messages between agents of a run.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.String(40)
JSON = sa.Text().with_variant(postgresql.JSONB(), "postgresql")


def _app_id() -> sa.Column[str]:
    return sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("id", ID, primary_key=True),
        _app_id(),
        sa.Column("session_id", ID),  # the session it was made in, if any
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("flow", sa.String(200)),  # the flow that owns it (gets its actions)
        sa.Column("state", JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_by", ID),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_artifacts_app", "artifacts", ["app_id", "type"])
    op.create_table(
        "artifact_versions",
        sa.Column(
            "artifact_id", ID, sa.ForeignKey("artifacts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("patch", JSON, nullable=False),
        sa.Column("actor", sa.String(120)),  # usr_…, key_…, run_…, or null
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("artifact_id", "version", name="pk_artifact_versions"),
    )
    op.create_table(
        "session_artifacts",
        sa.Column(
            "session_id", ID, sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "artifact_id", ID, sa.ForeignKey("artifacts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("session_id", "artifact_id", name="pk_session_artifacts"),
    )
    op.create_index("ix_session_artifacts_artifact", "session_artifacts", ["artifact_id"])
    # A question may wait for an action on an artifact instead of a person's answer.
    op.add_column("interrupts", sa.Column("kind", sa.String(16), server_default="question"))
    op.add_column("interrupts", sa.Column("artifact_id", ID))
    op.create_index("ix_interrupts_artifact", "interrupts", ["artifact_id", "status"])
    op.create_table(
        "memory",
        _app_id(),
        sa.Column("scope", sa.String(16), nullable=False),  # session | run | app | user
        sa.Column("scope_id", sa.String(80), nullable=False),  # the session's, run's… id
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.Column("expires_at", sa.Float),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("app_id", "scope", "scope_id", "key", name="pk_memory"),
    )
    op.create_index("ix_memory_expires", "memory", ["expires_at"])
    op.create_table(
        "agent_messages",
        sa.Column("id", ID, primary_key=True),
        _app_id(),
        sa.Column("run_id", ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("session_id", ID),
        sa.Column("sender", sa.String(64)),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),  # request|response|notification|handoff
        sa.Column("content", JSON),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_agent_messages_run", "agent_messages", ["run_id", "id"])
    # An app's workflow graph: the gates (flow B requires flow A completed by the same user)
    # and journeys (ordered sequences of flows) of its packs.
    op.create_table(
        "workflow_graphs",
        _app_id(),
        sa.Column("name", sa.String(100), nullable=False),  # the pack's name
        sa.Column("graph", JSON, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("app_id", "name", name="pk_workflow_graphs"),
    )


def downgrade() -> None:
    op.drop_table("workflow_graphs")
    op.drop_index("ix_agent_messages_run", "agent_messages")
    op.drop_table("agent_messages")
    op.drop_index("ix_memory_expires", "memory")
    op.drop_table("memory")
    op.drop_index("ix_interrupts_artifact", "interrupts")
    with op.batch_alter_table("interrupts") as batch:
        batch.drop_column("artifact_id")
        batch.drop_column("kind")
    op.drop_index("ix_session_artifacts_artifact", "session_artifacts")
    op.drop_table("session_artifacts")
    op.drop_table("artifact_versions")
    op.drop_index("ix_artifacts_app", "artifacts")
    op.drop_table("artifacts")
