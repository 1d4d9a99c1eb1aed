"""Budgets: the LLM calls' token usage (one row per call a provider answered) and the token
caps of apps, sessions and runs (docs/budgets.md).

Revision ID: 0016
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None

ID = sa.String(40)


def upgrade() -> None:
    op.create_table(
        "llm_usage",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("session_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("node_id", sa.String(200), nullable=False),
        sa.Column("call_key", sa.String(300), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("input_tokens", sa.BigInteger, nullable=False),
        sa.Column("output_tokens", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_llm_usage_app", "llm_usage", ["app_id", "created_at"])
    op.create_index("ix_llm_usage_run", "llm_usage", ["run_id"])
    op.create_index("ix_llm_usage_session", "llm_usage", ["session_id"])
    op.create_table(
        "budgets",
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        # `app` (subject: the app's id), `session` or `run` (subject: its id).
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("subject_id", ID, nullable=False),
        sa.Column("max_tokens", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("app_id", "scope", "subject_id", name="pk_budgets"),
    )


def downgrade() -> None:
    op.drop_table("budgets")
    op.drop_index("ix_llm_usage_session", "llm_usage")
    op.drop_index("ix_llm_usage_run", "llm_usage")
    op.drop_index("ix_llm_usage_app", "llm_usage")
    op.drop_table("llm_usage")
