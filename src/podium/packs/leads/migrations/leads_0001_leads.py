"""The leads pack's table: `leads_leads`, one row per submitted lead with its analysis and
what the follow-up handlers did.

Revision ID: leads_0001
Revises: (none: the first revision of the pack's own branch, label `leads`)
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "leads_0001"
down_revision = None
branch_labels = ("leads",)
depends_on = None

ID = sa.String(40)
JSON = sa.Text().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "leads_leads",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("company", sa.String(200)),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("service", sa.String(40), nullable=False),
        sa.Column("budget", sa.BigInteger),
        sa.Column("status", sa.String(16), nullable=False),  # new | analyzing | analyzed
        sa.Column("score", sa.Integer),
        sa.Column("tier", sa.String(8)),
        sa.Column("reasoning", JSON),
        sa.Column("agent_notes", sa.Text),
        sa.Column("analysis_session_id", ID),
        sa.Column("followups", JSON, nullable=False),
        sa.Column("submitted_by", sa.String(120)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("analyzed_at", sa.Float),
    )
    # The list's order (newest first) and its filters, each within one app.
    op.create_index("ix_leads_leads_app_created", "leads_leads", ["app_id", "created_at", "id"])
    op.create_index("ix_leads_leads_app_status", "leads_leads", ["app_id", "status"])
    op.create_index("ix_leads_leads_app_score", "leads_leads", ["app_id", "score"])


def downgrade() -> None:
    op.drop_table("leads_leads")
