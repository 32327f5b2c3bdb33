"""input headers kept with scored events and dead letters

`scored_events.headers` and `dead_letters.headers` hold the Kafka record's headers as a JSON
object (key -> UTF-8 text, `{"base64": ...}` for other bytes, a list for a key that repeats),
card numbers masked like everything else. Rows stored before this migration get `{}`.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant default adds the column without rewriting the table (Postgres 11+), and on the
    # partitioned scored_events it reaches every daily partition.
    for table in ("scored_events", "dead_letters"):
        op.add_column(
            table, sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb"))
        )


def downgrade() -> None:
    for table in ("dead_letters", "scored_events"):
        op.drop_column(table, "headers")
