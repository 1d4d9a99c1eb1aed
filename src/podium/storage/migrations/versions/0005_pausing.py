"""Pausing runs: a partial index of the runs asked to pause (`pausing`), so that the sweeper
finds those whose worker died without reading the whole runs table.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pausing = sa.text("status = 'pausing'")
    op.create_index(
        "ix_runs_pausing", "runs", ["lease_until"], sqlite_where=pausing, postgresql_where=pausing
    )


def downgrade() -> None:
    op.drop_index("ix_runs_pausing", "runs")
