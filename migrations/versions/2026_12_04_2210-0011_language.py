"""each event's language; events no model here reads are stored without scores

`scored_events.language` is the text's ISO 639-1 code (`und` when undetermined; NULL on rows stored
before this migration). A message in a language outside `MONITOR_LANGUAGES`, or one no configured
model reads (Chinese, for the English model), is stored with its language and NULL in every score
column and `model_version`: the score columns lose their NOT NULL, and a CHECK keeps a row either
scored (a model, a sentiment and its numbers) or not at all. Such rows get no `event_scores` row
(that table keeps scores only, so it gains no column: join on `event_id` for the language).

`ALTER TABLE` on the partitioned parent reaches every partition, present and future.
`entity_sentiment_hourly` counts scored events only; `languages_hourly` counts every event per
hour, stream and language, scored and unscored, for the analysts.

Downgrade deletes the unscored events (and their keys): the old schema cannot hold them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 22:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCORE_COLUMNS = ("sentiment", "sentiment_score", "sentiment_confidence", "model_version")
"""The NOT NULL columns of 0004 that an unscored row leaves empty."""

SCORED_OR_NOT = (
    "(model_version IS NULL AND sentiment IS NULL AND sentiment_score IS NULL AND sentiment_confidence IS NULL"
    " AND intent IS NULL) OR (model_version IS NOT NULL AND sentiment IS NOT NULL"
    " AND sentiment_score IS NOT NULL AND sentiment_confidence IS NOT NULL)"
)

ENTITY_SENTIMENT_HOURLY = """
CREATE OR REPLACE VIEW entity_sentiment_hourly AS
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
{where}GROUP BY e.entity, date_trunc('hour', s.event_time AT TIME ZONE 'UTC'), s.stream
"""
"""0003's view; after this migration over scored events only (`events` = negative + neutral + positive)."""

LANGUAGES_HOURLY = """
CREATE VIEW languages_hourly AS
SELECT date_trunc('hour', event_time AT TIME ZONE 'UTC') AS hour_utc,
       stream,
       language,
       count(*) AS events,
       count(*) FILTER (WHERE model_version IS NOT NULL) AS scored,
       count(*) FILTER (WHERE model_version IS NULL) AS unscored
FROM scored_events
GROUP BY 1, stream, language
"""
"""Per UTC hour, stream and language (NULL: stored before languages were detected): how many
events came, how many a model scored, how many were stored without scores."""


def upgrade() -> None:
    op.execute("ALTER TABLE scored_events ADD COLUMN language text")
    for column in SCORE_COLUMNS:
        op.execute(f"ALTER TABLE scored_events ALTER COLUMN {column} DROP NOT NULL")
    op.execute(f"ALTER TABLE scored_events ADD CONSTRAINT ck_scored_events_scored_or_not CHECK ({SCORED_OR_NOT})")
    op.execute(ENTITY_SENTIMENT_HOURLY.format(where="WHERE s.model_version IS NOT NULL\n"))
    op.execute(LANGUAGES_HOURLY)
    op.execute("GRANT SELECT ON languages_hourly TO monitor_analyst")


def downgrade() -> None:
    op.execute("DROP VIEW languages_hourly")
    op.execute(ENTITY_SENTIMENT_HOURLY.format(where=""))
    op.execute(
        "DELETE FROM scored_event_keys AS k USING scored_events AS s "
        "WHERE s.model_version IS NULL AND k.stream = s.stream AND k.message_id = s.message_id"
    )
    op.execute("DELETE FROM scored_events WHERE model_version IS NULL")
    op.execute("ALTER TABLE scored_events DROP CONSTRAINT ck_scored_events_scored_or_not")
    for column in SCORE_COLUMNS:
        op.execute(f"ALTER TABLE scored_events ALTER COLUMN {column} SET NOT NULL")
    op.execute("ALTER TABLE scored_events DROP COLUMN language")
