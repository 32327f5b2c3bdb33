"""scored_events partitioned by event_time; the natural key moves to scored_event_keys

Postgres demands that every unique index of a partitioned table include the partition key, and
`(stream, message_id)` does not. The key therefore lives in a narrow unpartitioned table that
the writer inserts into first, in the same transaction: only rows whose key was new go into
`scored_events`, so a replay still inserts nothing.

The migration creates only the DEFAULT partition and copies the existing rows into it (fine for a
young table; ids and the id sequence are kept, so alerts' evidence still points at its events).
`monitor migrate` and `monitor run` then create the daily partitions and move recent rows out of
the default one (monitor/db/partitions.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 16:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "id, stream, message_id, source_topic, source_partition, source_offset, received_at, event_time, "
    "text, entities, sentiment, sentiment_score, sentiment_confidence, intent, intent_confidence, "
    "model_version, customer_id, payload"
)

CREATE_TABLE = """
CREATE TABLE scored_events (
    id bigint NOT NULL DEFAULT nextval('scored_events_id_seq'),
    stream text NOT NULL,
    message_id text NOT NULL,
    source_topic text NOT NULL,
    source_partition integer NOT NULL,
    source_offset bigint NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    event_time timestamptz NOT NULL,
    text text NOT NULL,
    entities text[] NOT NULL DEFAULT '{}',
    sentiment text NOT NULL,
    sentiment_score double precision NOT NULL,
    sentiment_confidence double precision NOT NULL,
    intent text,
    intent_confidence double precision,
    model_version text NOT NULL,
    customer_id text,
    payload jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT pk_scored_events PRIMARY KEY (id, event_time),
    CONSTRAINT ck_scored_events_stream CHECK (stream IN ('news', 'customer')),
    CONSTRAINT ck_scored_events_sentiment CHECK (sentiment IN ('negative', 'neutral', 'positive'))
)"""

INDEXES = (
    "CREATE INDEX ix_scored_events_stream_message_id ON scored_events (stream, message_id)",
    "CREATE INDEX ix_scored_events_event_time ON scored_events (event_time)",
    "CREATE INDEX ix_scored_events_entities ON scored_events USING gin (entities)",
    "CREATE INDEX ix_scored_events_hour_utc ON scored_events "
    "((date_trunc('hour', event_time AT TIME ZONE 'UTC')))",
    "CREATE INDEX ix_scored_events_customer_intent ON scored_events (event_time, intent) "
    "WHERE stream = 'customer'",
)
"""Declared on the parent, so Postgres builds each on every partition, present and future."""

# The views of migration 0003, unchanged: a view is bound to a table, not to its name, so they
# are dropped with the old table and created again on the new one.
VIEWS = (
    """
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
""",
    """
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
""",
    """
CREATE VIEW open_alerts_with_evidence AS
SELECT a.id, a.rule, a.severity, a.entity, a.first_seen, a.last_seen, a.event_count,
       ev.id AS event_id, ev.stream, ev.event_time, ev.text, ev.sentiment, ev.sentiment_score,
       ev.intent, ev.intent_confidence
FROM alerts AS a
LEFT JOIN LATERAL unnest(a.evidence) AS x(event_id) ON true
LEFT JOIN scored_events AS ev ON ev.id = x.event_id
WHERE a.status = 'firing'
""",
)
VIEW_NAMES = ("open_alerts_with_evidence", "top_intents_today", "entity_sentiment_hourly")


def _swap_table(partitioned: bool) -> None:
    """Replace scored_events by a new table (partitioned or not) holding the same rows and ids."""
    for view in VIEW_NAMES:
        op.execute(f"DROP VIEW {view}")
    op.execute("ALTER TABLE scored_events RENAME TO scored_events_old")
    op.execute("ALTER TABLE scored_events_old RENAME CONSTRAINT pk_scored_events TO pk_scored_events_old")
    op.execute(CREATE_TABLE + (" PARTITION BY RANGE (event_time)" if partitioned else ""))
    if partitioned:
        op.execute("CREATE TABLE scored_events_default PARTITION OF scored_events DEFAULT")
    op.execute(f"INSERT INTO scored_events ({COLUMNS}) SELECT {COLUMNS} FROM scored_events_old")  # noqa: S608
    # The sequence belongs to the old table's column: hand it over before dropping that table.
    op.execute("ALTER SEQUENCE scored_events_id_seq OWNED BY scored_events.id")
    op.execute("DROP TABLE scored_events_old")
    for index in INDEXES:
        op.execute(index)
    for view in VIEWS:
        op.execute(view)
    op.execute("GRANT SELECT ON scored_events TO monitor_analyst")
    for view in VIEW_NAMES:
        op.execute(f"GRANT SELECT ON {view} TO monitor_analyst")


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE scored_event_keys (
            stream text NOT NULL,
            message_id text NOT NULL,
            event_time timestamptz NOT NULL,
            inserted_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_scored_event_keys PRIMARY KEY (stream, message_id)
        )
        """
    )
    op.execute("CREATE INDEX ix_scored_event_keys_event_time ON scored_event_keys (event_time)")
    op.execute(
        "INSERT INTO scored_event_keys (stream, message_id, event_time) "
        "SELECT stream, message_id, event_time FROM scored_events"
    )
    op.execute("GRANT SELECT ON scored_event_keys TO monitor_analyst")
    _swap_table(partitioned=True)


def downgrade() -> None:
    _swap_table(partitioned=False)
    # 0001's names: the natural key is unique again (the key table guaranteed it), the PK is id.
    op.execute("ALTER TABLE scored_events DROP CONSTRAINT pk_scored_events")
    op.execute("ALTER TABLE scored_events ADD CONSTRAINT pk_scored_events PRIMARY KEY (id)")
    op.execute("DROP INDEX ix_scored_events_stream_message_id")
    op.execute("CREATE UNIQUE INDEX uq_scored_events_stream_message_id ON scored_events (stream, message_id)")
    op.execute("DROP TABLE scored_event_keys")
