"""The knowledge store: namespaced documents per app, cut into chunks, and a full-text index
of the chunks (SQLite FTS5 with the Porter stemmer; PostgreSQL a generated `tsvector` with a
GIN index). A chunk may carry a vector (float32, little-endian) for hybrid search, made by
the app's embeddings model (`apps.embedding_model`).

SQLite's index is an external-content FTS5 table over `knowledge_chunks`, kept in step by
triggers, so it changes in the same transaction as the chunks (and with a cascaded delete).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.String(40)
JSON = sa.Text().with_variant(postgresql.JSONB(), "postgresql")
# INTEGER PRIMARY KEY on SQLite is the rowid (FTS5's content_rowid must be it).
ROWID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_SQLITE_INDEX = (
    "CREATE VIRTUAL TABLE knowledge_fts USING fts5(text, content='knowledge_chunks', "
    "content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER knowledge_chunks_ai AFTER INSERT ON knowledge_chunks BEGIN "
    "INSERT INTO knowledge_fts (rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER knowledge_chunks_ad AFTER DELETE ON knowledge_chunks BEGIN "
    "INSERT INTO knowledge_fts (knowledge_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "END",
    "CREATE TRIGGER knowledge_chunks_au AFTER UPDATE OF text ON knowledge_chunks BEGIN "
    "INSERT INTO knowledge_fts (knowledge_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO knowledge_fts (rowid, text) VALUES (new.id, new.text); END",
)


def upgrade() -> None:
    # The app's embeddings model (`provider/model`): with one, chunks get vectors.
    op.add_column("apps", sa.Column("embedding_model", sa.String(200)))
    op.create_table(
        "knowledge_documents",
        sa.Column("id", ROWID, primary_key=True, autoincrement=True),
        sa.Column("app_id", ID, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("chunks", sa.Integer, nullable=False),
        sa.Column("actor", sa.String(120)),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("app_id", "namespace", "key", name="uq_knowledge_documents_key"),
    )
    op.create_table(
        "knowledge_chunks",
        sa.Column("id", ROWID, primary_key=True, autoincrement=True),
        sa.Column(
            "document_id",
            ROWID,
            sa.ForeignKey("knowledge_documents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        # The document's app and namespace again, so a search filters chunks without a join.
        sa.Column("app_id", ID, nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("chunk", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("vector", sa.LargeBinary),
    )
    op.create_index(
        "ix_knowledge_chunks_document", "knowledge_chunks", ["document_id", "chunk"], unique=True
    )
    op.create_index("ix_knowledge_chunks_namespace", "knowledge_chunks", ["app_id", "namespace"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE knowledge_chunks ADD COLUMN tsv tsvector "
            "GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED"
        )
        op.execute("CREATE INDEX ix_knowledge_chunks_tsv ON knowledge_chunks USING GIN (tsv)")
    else:
        for statement in _SQLITE_INDEX:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for trigger in ("knowledge_chunks_au", "knowledge_chunks_ad", "knowledge_chunks_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS knowledge_fts")
    op.drop_table("knowledge_chunks")
    op.drop_table("knowledge_documents")
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("embedding_model")
