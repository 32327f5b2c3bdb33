"""intent probabilities on scored events, evidence details on alerts, one spelling per intent

`scored_events.intent_probabilities` keeps the likeliest intents of a customer message with their
calibrated probabilities, so rules over a set of intents (fraud_intent) and analysts can sum them.
`alerts.evidence_details` says why each piece of evidence counted. Banking77 spelt one intent
`Refund_not_showing_up`; stored rows move to the spelling the model now gives, so counts per intent
do not split in two.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


VIEW_BEFORE = """
CREATE VIEW open_alerts_with_evidence AS
SELECT a.id, a.rule, a.severity, a.entity, a.first_seen, a.last_seen, a.event_count,
       ev.id AS event_id, ev.stream, ev.event_time, ev.text, ev.sentiment, ev.sentiment_score,
       ev.intent, ev.intent_confidence
FROM alerts AS a
LEFT JOIN LATERAL unnest(a.evidence) AS x(event_id) ON true
LEFT JOIN scored_events AS ev ON ev.id = x.event_id
WHERE a.status = 'firing'
"""

VIEW_AFTER = """
CREATE OR REPLACE VIEW open_alerts_with_evidence AS
SELECT a.id, a.rule, a.severity, a.entity, a.first_seen, a.last_seen, a.event_count,
       ev.id AS event_id, ev.stream, ev.event_time, ev.text, ev.sentiment, ev.sentiment_score,
       ev.intent, ev.intent_confidence,
       ev.intent_probabilities,
       (SELECT d FROM jsonb_array_elements(a.evidence_details) AS d
        WHERE (d ->> 'event_id')::bigint = ev.id LIMIT 1) AS why
FROM alerts AS a
LEFT JOIN LATERAL unnest(a.evidence) AS x(event_id) ON true
LEFT JOIN scored_events AS ev ON ev.id = x.event_id
WHERE a.status = 'firing'
"""
"""The same view with each event's intent probabilities and why it counted (columns added at the
end, so queries written against the old view keep working)."""


def upgrade() -> None:
    op.add_column("scored_events", sa.Column("intent_probabilities", JSONB, nullable=True))
    op.add_column(
        "alerts",
        sa.Column("evidence_details", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    op.execute("UPDATE scored_events SET intent = lower(intent) WHERE intent = 'Refund_not_showing_up'")
    op.execute(VIEW_AFTER)


def downgrade() -> None:
    op.execute("DROP VIEW open_alerts_with_evidence")
    op.execute(VIEW_BEFORE)  # granted to monitor_analyst again by 0003's default privileges
    op.drop_column("alerts", "evidence_details")
    op.drop_column("scored_events", "intent_probabilities")
