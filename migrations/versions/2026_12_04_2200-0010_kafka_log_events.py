"""a Kafka log that was replaced, truncated or expired: noticed, recorded, never skipped in silence

`consumer_offsets` gains the fingerprint of the last record stored (`last_fingerprint`: the
record at `next_offset - 1`), so the service can tell that the log at that offset still holds the
record it read, and the log's `incarnation` (0, then one more each time the log is found replaced),
which the natural key of a record without a producer id carries, so the new log's offset 17 is
never taken for the old log's. `dead_letters` carries the incarnation in its unique key for the
same reason. `kafka_log_events` is the operator's record of each such event. `monitor_analyst`
reads it through 0003's default privileges.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("consumer_offsets", sa.Column("last_fingerprint", sa.Text(), nullable=True))
    op.add_column(
        "consumer_offsets", sa.Column("incarnation", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    op.add_column(
        "dead_letters", sa.Column("source_incarnation", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    op.drop_index("uq_dead_letters_source", table_name="dead_letters")
    op.create_index(
        "uq_dead_letters_source",
        "dead_letters",
        ["source_topic", "source_partition", "source_offset", "source_incarnation"],
        unique=True,
    )
    op.create_table(
        "kafka_log_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("group_id", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("log_start", sa.BigInteger(), nullable=False),
        sa.Column("log_end", sa.BigInteger(), nullable=False),
        sa.Column("lost_from", sa.BigInteger(), nullable=True),
        sa.Column("lost_to", sa.BigInteger(), nullable=True),
        sa.Column("lost_count", sa.BigInteger(), nullable=True),
        sa.Column("resumed_at", sa.BigInteger(), nullable=False),
        sa.Column("incarnation", sa.Integer(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.CheckConstraint("kind IN ('replaced', 'truncated', 'expired')", name=op.f("ck_kafka_log_events_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kafka_log_events")),
    )
    op.create_index("ix_kafka_log_events_detected_at", "kafka_log_events", ["detected_at"])


def downgrade() -> None:
    op.drop_index("ix_kafka_log_events_detected_at", table_name="kafka_log_events")
    op.drop_table("kafka_log_events")
    op.execute("DELETE FROM dead_letters WHERE source_incarnation > 0")
    op.drop_index("uq_dead_letters_source", table_name="dead_letters")
    op.create_index(
        "uq_dead_letters_source", "dead_letters", ["source_topic", "source_partition", "source_offset"], unique=True
    )
    op.drop_column("dead_letters", "source_incarnation")
    op.drop_column("consumer_offsets", "incarnation")
    op.drop_column("consumer_offsets", "last_fingerprint")
