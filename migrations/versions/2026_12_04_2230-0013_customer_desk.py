"""the customer desk: the suggested reply of each customer message, and out-of-scope messages per hour

`scored_events` gains the reply chosen for a customer message from the operator's approved
replies (`MONITOR_REPLIES_FILE`): its id, its text with the message's placeholders filled in
(masked like every stored text), and the match's cosine similarity (`reply_score`); and the
desk's triage: `urgency` (fraud, upset or normal) and `queue` (the replies file's team for the
intent).
`customer_out_of_scope_hourly` counts, per UTC hour, the customer messages that were not banking
requests (intent `out_of_scope`) against all customer messages; `monitor_analyst` reads it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CUSTOMER_OUT_OF_SCOPE_HOURLY = """
CREATE VIEW customer_out_of_scope_hourly AS
SELECT date_trunc('hour', event_time AT TIME ZONE 'UTC') AS hour_utc,
       count(*) AS messages,
       count(*) FILTER (WHERE intent = 'out_of_scope') AS out_of_scope,
       (count(*) FILTER (WHERE intent = 'out_of_scope'))::double precision / count(*) AS out_of_scope_share,
       avg(intent_confidence) FILTER (WHERE intent = 'out_of_scope') AS avg_out_of_scope_probability
FROM scored_events
WHERE stream = 'customer'
GROUP BY date_trunc('hour', event_time AT TIME ZONE 'UTC')
"""
"""One row per UTC hour with customer messages; `hour_utc` matches 0003's expression index."""


def upgrade() -> None:
    op.add_column("scored_events", sa.Column("reply_id", sa.Text(), nullable=True))
    op.add_column("scored_events", sa.Column("reply_text", sa.Text(), nullable=True))
    op.add_column("scored_events", sa.Column("reply_score", sa.Double(), nullable=True))
    op.add_column("scored_events", sa.Column("urgency", sa.Text(), nullable=True))
    op.add_column("scored_events", sa.Column("queue", sa.Text(), nullable=True))
    op.execute(CUSTOMER_OUT_OF_SCOPE_HOURLY)
    op.execute("GRANT SELECT ON customer_out_of_scope_hourly TO monitor_analyst")


def downgrade() -> None:
    op.execute("DROP VIEW customer_out_of_scope_hourly")
    op.drop_column("scored_events", "queue")
    op.drop_column("scored_events", "urgency")
    op.drop_column("scored_events", "reply_score")
    op.drop_column("scored_events", "reply_text")
    op.drop_column("scored_events", "reply_id")
