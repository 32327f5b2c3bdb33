"""event_scores: every score ever computed, one row per (event, model version); model views

`scored_events` keeps one version per event (the newest); `event_scores` keeps them all, so a
model upgrade can re-score history (`monitor rescore`) and both versions stay queryable.

No foreign key to `scored_events`: its primary key is `(id, event_time)` on a table partitioned by
day, and partition maintenance moves rows out of the DEFAULT partition with DELETE + INSERT
(monitor/db/partitions.py), which a referencing key would either refuse or cascade into deleting
the scores. Each row therefore carries `event_id` and `event_time` (join on both: only that day's
partition is read), and retention deletes old scores by `event_time` with the events.
`origin` says whether the live pipeline or `monitor rescore` computed the score: drift is
watched over live scores only, so re-scoring history never raises an alert.

Existing events get their score row here (INSERT ... SELECT), stamped with their `received_at`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 10:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREATE_TABLE = """
CREATE TABLE event_scores (
    event_id bigint NOT NULL,
    event_time timestamptz NOT NULL,
    stream text NOT NULL,
    model_version text NOT NULL,
    sentiment text NOT NULL,
    sentiment_score double precision NOT NULL,
    sentiment_confidence double precision NOT NULL,
    intent text,
    intent_confidence double precision,
    intent_probabilities jsonb,
    origin text NOT NULL DEFAULT 'live',
    scored_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_event_scores PRIMARY KEY (event_id, model_version),
    CONSTRAINT ck_event_scores_stream CHECK (stream IN ('news', 'customer')),
    CONSTRAINT ck_event_scores_sentiment CHECK (sentiment IN ('negative', 'neutral', 'positive')),
    CONSTRAINT ck_event_scores_origin CHECK (origin IN ('live', 'rescore'))
)"""

INDEXES = (
    # The drift chore: a stream's latest live scores by one model version.
    "CREATE INDEX ix_event_scores_live ON event_scores (stream, model_version, scored_at) WHERE origin = 'live'",
    "CREATE INDEX ix_event_scores_event_time ON event_scores (event_time)",
)

BACKFILL = """
INSERT INTO event_scores (event_id, event_time, stream, model_version, sentiment, sentiment_score,
                          sentiment_confidence, intent, intent_confidence, intent_probabilities,
                          origin, scored_at)
SELECT id, event_time, stream, model_version, sentiment, sentiment_score, sentiment_confidence,
       intent, intent_confidence, intent_probabilities, 'live', received_at
FROM scored_events
ON CONFLICT DO NOTHING
"""

MODEL_VERSIONS = """
CREATE VIEW model_versions AS
SELECT model_version,
       count(*) AS events,
       count(*) FILTER (WHERE origin = 'rescore') AS rescored_events,
       min(scored_at) AS first_scored_at,
       max(scored_at) AS last_scored_at
FROM event_scores
GROUP BY model_version
"""

MODEL_HEALTH_HOURLY = """
CREATE VIEW model_health_hourly AS
SELECT date_trunc('hour', event_time AT TIME ZONE 'UTC') AS hour_utc,
       stream,
       model_version,
       count(*) AS events,
       avg((sentiment = 'negative')::int)::double precision AS negative_share,
       avg((sentiment = 'neutral')::int)::double precision AS neutral_share,
       avg((sentiment = 'positive')::int)::double precision AS positive_share,
       avg(sentiment_confidence) AS mean_sentiment_confidence,
       avg(intent_confidence) AS mean_intent_confidence
FROM event_scores
GROUP BY 1, stream, model_version
"""


def upgrade() -> None:
    op.execute(CREATE_TABLE)
    for index in INDEXES:
        op.execute(index)
    op.execute(BACKFILL)
    op.execute(MODEL_VERSIONS)
    op.execute(MODEL_HEALTH_HOURLY)
    for name in ("event_scores", "model_versions", "model_health_hourly"):
        op.execute(f"GRANT SELECT ON {name} TO monitor_analyst")


def downgrade() -> None:
    op.execute("DROP VIEW model_health_hourly")
    op.execute("DROP VIEW model_versions")
    op.execute("DROP TABLE event_scores")
