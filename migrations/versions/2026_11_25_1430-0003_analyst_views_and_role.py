"""analyst views, their indexes, and the read-only role monitor_analyst

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 14:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ENTITY_SENTIMENT_HOURLY = """
CREATE VIEW entity_sentiment_hourly AS
SELECT e.entity,
       date_trunc('hour', s.event_time AT TIME ZONE 'UTC') AS hour_utc,
       s.stream,
       count(*) AS events,
       count(*) FILTER (WHERE s.sentiment = 'negative') AS negative,
       count(*) FILTER (WHERE s.sentiment = 'neutral') AS neutral,
       count(*) FILTER (WHERE s.sentiment = 'positive') AS positive,
       avg(s.sentiment_score) AS avg_sentiment_score,
       avg(s.sentiment_confidence) AS avg_sentiment_confidence
FROM scored_events AS s
CROSS JOIN LATERAL unnest(s.entities) AS e(entity)
GROUP BY e.entity, date_trunc('hour', s.event_time AT TIME ZONE 'UTC'), s.stream
"""
"""One row per (entity, UTC hour, stream). `hour_utc` is a UTC `timestamp` on purpose: a filter
on it is pushed below the GROUP BY and matches the immutable expression index on event_time."""

TOP_INTENTS_TODAY = """
CREATE VIEW top_intents_today AS
SELECT intent,
       count(*) AS messages,
       count(DISTINCT customer_id) AS customers,
       avg(intent_confidence) AS avg_intent_confidence,
       rank() OVER (ORDER BY count(*) DESC) AS rank
FROM scored_events
WHERE stream = 'customer'
  AND intent IS NOT NULL
  AND event_time >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
GROUP BY intent
ORDER BY messages DESC, intent
"""
"""Customer intents since 00:00 UTC today, most frequent first."""

OPEN_ALERTS_WITH_EVIDENCE = """
CREATE VIEW open_alerts_with_evidence AS
SELECT a.id, a.rule, a.severity, a.entity, a.first_seen, a.last_seen, a.event_count,
       ev.id AS event_id, ev.stream, ev.event_time, ev.text, ev.sentiment, ev.sentiment_score,
       ev.intent, ev.intent_confidence
FROM alerts AS a
LEFT JOIN LATERAL unnest(a.evidence) AS x(event_id) ON true
LEFT JOIN scored_events AS ev ON ev.id = x.event_id
WHERE a.status = 'firing'
"""
"""Open alerts, one row per evidence event (scored_events ids in alerts.evidence)."""

CREATE_ROLE = """
DO $$
BEGIN
    CREATE ROLE monitor_analyst NOLOGIN;
EXCEPTION
    -- Roles are cluster-wide: another database (or a migration running at the same moment in a
    -- second database) may have created it already.
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_scored_events_hour_utc ON scored_events "
        "((date_trunc('hour', event_time AT TIME ZONE 'UTC')))"
    )
    op.execute(
        "CREATE INDEX ix_scored_events_customer_intent ON scored_events (event_time, intent) "
        "WHERE stream = 'customer'"
    )
    op.execute(ENTITY_SENTIMENT_HOURLY)
    op.execute(TOP_INTENTS_TODAY)
    op.execute(OPEN_ALERTS_WITH_EVIDENCE)
    op.execute(CREATE_ROLE)
    op.execute("GRANT USAGE ON SCHEMA public TO monitor_analyst")
    op.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO monitor_analyst")
    # Tables and views later migrations create (as the same migrating user) are readable too.
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO monitor_analyst")


def downgrade() -> None:
    # The role itself stays: it is cluster-wide and other databases may still grant to it.
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM monitor_analyst"
    )
    op.execute("REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM monitor_analyst")
    op.execute("REVOKE USAGE ON SCHEMA public FROM monitor_analyst")
    op.execute("DROP VIEW open_alerts_with_evidence")
    op.execute("DROP VIEW top_intents_today")
    op.execute("DROP VIEW entity_sentiment_hourly")
    op.execute("DROP INDEX ix_scored_events_customer_intent")
    op.execute("DROP INDEX ix_scored_events_hour_utc")
