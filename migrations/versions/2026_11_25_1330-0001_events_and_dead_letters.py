"""scored_events and dead_letters

Revision ID: 0001
Revises:
Create Date: 2026-11-25 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scored_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("stream", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("source_topic", sa.Text(), nullable=False),
        sa.Column("source_partition", sa.Integer(), nullable=False),
        sa.Column("source_offset", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("entities", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("sentiment", sa.Text(), nullable=False),
        sa.Column("sentiment_score", sa.Double(), nullable=False),
        sa.Column("sentiment_confidence", sa.Double(), nullable=False),
        sa.Column("intent", sa.Text(), nullable=True),
        sa.Column("intent_confidence", sa.Double(), nullable=True),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Text(), nullable=True),
        sa.Column("payload", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.CheckConstraint("stream IN ('news', 'customer')", name=op.f("ck_scored_events_stream")),
        sa.CheckConstraint(
            "sentiment IN ('negative', 'neutral', 'positive')", name=op.f("ck_scored_events_sentiment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scored_events")),
    )
    op.create_index("uq_scored_events_stream_message_id", "scored_events", ["stream", "message_id"], unique=True)
    op.create_index("ix_scored_events_event_time", "scored_events", ["event_time"])
    op.create_index("ix_scored_events_entities", "scored_events", ["entities"], postgresql_using="gin")

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("source_topic", sa.Text(), nullable=False),
        sa.Column("source_partition", sa.Integer(), nullable=False),
        sa.Column("source_offset", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index(
        "uq_dead_letters_source", "dead_letters", ["source_topic", "source_partition", "source_offset"], unique=True
    )


def downgrade() -> None:
    op.drop_table("dead_letters")
    op.drop_table("scored_events")
