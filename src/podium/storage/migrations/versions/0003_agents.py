"""Agents, model providers, tools: agent definitions (versioned), provider configurations and
integration settings (secrets encrypted), MCP servers, the tool-call log, agent activity.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.String(40)
JSON = sa.Text().with_variant(postgresql.JSONB(), "postgresql")


def _app_id() -> sa.Column[str]:
    return sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    # An app's default model: step four of the model resolution chain (DESIGN §3.13).
    op.add_column("apps", sa.Column("default_model", sa.String(200)))
    op.create_table(
        "agents",
        sa.Column("id", ID, primary_key=True),
        _app_id(),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("created_by", ID),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("app_id", "name", "version", name="uq_agents_version"),
    )
    op.create_table(
        "providers",
        sa.Column("id", ID, primary_key=True),
        _app_id(),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("base_url", sa.Text),
        sa.Column("api_key_encrypted", sa.Text),
        sa.Column("options", JSON),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("app_id", "name", name="uq_providers_name"),
    )
    op.create_table(
        "integrations",
        _app_id(),
        sa.Column("service", sa.String(40), nullable=False),
        sa.Column("config_encrypted", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("app_id", "service", name="pk_integrations"),
    )
    op.create_table(
        "mcp_servers",
        sa.Column("id", ID, primary_key=True),
        _app_id(),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("app_id", "name", name="uq_mcp_servers_name"),
    )
    op.create_table(
        "tool_calls",
        sa.Column("id", ID, primary_key=True),
        _app_id(),
        sa.Column("session_id", ID),
        sa.Column("run_id", ID),
        sa.Column("node_id", sa.String(200)),
        sa.Column("iteration", sa.Integer),
        sa.Column("call_key", sa.String(300)),
        sa.Column("agent", sa.String(64)),
        sa.Column("tool", sa.String(100), nullable=False),
        sa.Column("arguments", JSON),
        sa.Column("result", JSON),
        sa.Column("error", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),  # ok | error | skipped
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        # A recorded call is logged once, even when its step ran again after a crash.
        sa.UniqueConstraint("run_id", "node_id", "iteration", "call_key", name="uq_tool_calls"),
    )
    op.create_index("ix_tool_calls_app", "tool_calls", ["app_id", "id"])
    op.create_table(
        "agent_activity",
        _app_id(),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("run_id", ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("scope", sa.String(300), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "scope", name="pk_agent_activity"),
    )
    op.create_index("ix_agent_activity_app", "agent_activity", ["app_id", "agent"])


def downgrade() -> None:
    op.drop_index("ix_agent_activity_app", "agent_activity")
    op.drop_index("ix_tool_calls_app", "tool_calls")
    for table in ("agent_activity", "tool_calls", "mcp_servers", "integrations", "providers"):
        op.drop_table(table)
    op.drop_table("agents")
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("default_model")
