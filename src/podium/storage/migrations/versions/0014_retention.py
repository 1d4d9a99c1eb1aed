"""Retention (issue 19): an app's own retention policy (`PUT /apps/{app}/retention`).

`retention_policies` holds one JSON policy per app, `{kind: {days, keep_last}}` for the
kinds `runs`, `steps`, `events`, `tool_calls` and `artifact_versions` (docs/retention.md);
what it leaves out follows the server's PODIUM_RETENTION.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

ID = sa.String(40)
JSON = sa.Text().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "retention_policies",
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("policy", JSON, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("retention_policies")
