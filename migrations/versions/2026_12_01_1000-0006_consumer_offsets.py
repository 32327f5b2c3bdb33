"""consumer offsets kept in Postgres, in the same transaction as the rows they cover

Kafka's committed offsets can run ahead of a database that lost its last transactions (an
asynchronous standby promoted after its primary died). `consumer_offsets` holds, per consumer
group and partition, the next offset to read as far as THIS database is concerned: it is upserted
in each batch's transaction, so it never claims a row the database does not have. The service seeks
there on every assignment and after every database outage. `monitor_analyst` reads it through
0003's default privileges.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consumer_offsets",
        sa.Column("group_id", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("next_offset >= 0", name=op.f("ck_consumer_offsets_next_offset_non_negative")),
        sa.PrimaryKeyConstraint("group_id", "topic", "partition", name=op.f("pk_consumer_offsets")),
    )


def downgrade() -> None:
    op.drop_table("consumer_offsets")
