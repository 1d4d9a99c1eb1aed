"""The storyflow pack's tables: `storyflow_characters` (the seed's consistent_characters),
and the component catalogue: `storyflow_components`, the 13 shipped components (seeded
idempotently: `seed_shipped` inserts or updates them, and later revisions that change the
catalogue call it again), and `storyflow_app_components`, each app's own.

Revision ID: storyflow_0001
Revises: (none: the first revision of the pack's own branch, label `storyflow`)
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from podium.packs.storyflow.catalogue import seed_shipped

revision = "storyflow_0001"
down_revision = None
branch_labels = ("storyflow",)
depends_on = None

ID = sa.String(40)
JSON = sa.Text().with_variant(postgresql.JSONB(), "postgresql")


def _component_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("node_type", sa.String(128), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("ports", JSON, nullable=False),
        sa.Column("api_config", JSON, nullable=False),
        sa.Column("output_schema", JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "storyflow_characters",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("personality", sa.Text),
        sa.Column("appearance", sa.Text),
        sa.Column("voice", sa.Text),
        sa.Column("metadata", JSON),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("app_id", "name", name="uq_storyflow_characters_app_name"),
    )
    # The shipped catalogue (no app: the rows are the pack's, seeded below).
    op.create_table(
        "storyflow_components",
        sa.Column("component_id", sa.String(64), primary_key=True),
        *_component_columns(),
        sa.Column("position", sa.Integer, nullable=False),
    )
    # Each app's own components (deleted with the app).
    op.create_table(
        "storyflow_app_components",
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("component_id", sa.String(64), primary_key=True),
        *_component_columns(),
    )
    seed_shipped(op.get_bind())


def downgrade() -> None:
    op.drop_table("storyflow_app_components")
    op.drop_table("storyflow_components")
    op.drop_table("storyflow_characters")
