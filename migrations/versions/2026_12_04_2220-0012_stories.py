"""stories: news items grouped into stories, and how each entity was linked

`scored_events` gains `story_id` (the story a news item belongs to: reprints and light rewrites of
one event share it), `story_first` (whether the item started it) and `entity_links` (JSONB: per
entity how it was found — `field`, `cashtag`, `alias`, `name` — and whether it is the `subject` or
one of several `mentioned`). `entities` keeps its shape (text[] of tickers), so its GIN index, the
views and every analyst query keep working. Adding nullable columns to the partitioned parent adds
them to every daily partition without rewriting any (rows stored before have no story).

`news_story_members` holds each recent headline's MinHash signature and story, `news_story_bands`
its LSH band keys, so a replica finds
the story of a reprint whichever replica stored the first item, and after a restart. The view
`stories` gives one row per story.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STORIES_VIEW = """
CREATE VIEW stories AS
SELECT g.story_id,
       min(g.event_time) AS first_seen,
       max(g.event_time) AS last_seen,
       count(*) AS items,
       count(DISTINCT g.payload->>'source') AS sources,
       (SELECT array_agg(DISTINCT e ORDER BY e)
          FROM scored_events x, unnest(x.entities) AS e
         WHERE x.story_id = g.story_id AND x.stream = 'news') AS entities,
       (array_agg(split_part(g.text, E'\\n\\n', 1) ORDER BY g.story_first DESC, g.event_time, g.id))[1]
           AS first_headline,
       (array_agg(g.sentiment ORDER BY g.story_first DESC, g.event_time, g.id))[1] AS first_sentiment,
       (array_agg(g.sentiment_score ORDER BY g.story_first DESC, g.event_time, g.id))[1] AS first_sentiment_score
FROM scored_events g
WHERE g.stream = 'news' AND g.story_id IS NOT NULL
GROUP BY g.story_id
"""


def upgrade() -> None:
    op.add_column("scored_events", sa.Column("entity_links", JSONB))
    op.add_column("scored_events", sa.Column("story_id", sa.BigInteger))
    op.add_column("scored_events", sa.Column("story_first", sa.Boolean))
    op.create_index(
        "ix_scored_events_story_id",
        "scored_events",
        ["story_id"],
        postgresql_where=sa.text("story_id IS NOT NULL"),
    )
    op.create_table(
        "news_story_members",
        sa.Column("member_key", sa.BigInteger, primary_key=True),
        sa.Column("story_id", sa.BigInteger, nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sketch", ARRAY(sa.BigInteger), nullable=False),
    )
    op.create_index("ix_news_story_members_event_time", "news_story_members", ["event_time"])
    # A row per band key (not an array under GIN: `&&` against thousands of keys rechecks slowly).
    op.create_table(
        "news_story_bands",
        sa.Column("band", sa.BigInteger, primary_key=True),
        sa.Column("member_key", sa.BigInteger, primary_key=True),
    )
    op.execute(STORIES_VIEW)
    op.execute("GRANT SELECT ON stories TO monitor_analyst")  # role of migration 0003
    op.execute("GRANT SELECT ON news_story_members, news_story_bands TO monitor_analyst")


def downgrade() -> None:
    op.execute("DROP VIEW stories")
    op.drop_table("news_story_bands")
    op.drop_table("news_story_members")
    op.drop_index("ix_scored_events_story_id", table_name="scored_events")
    op.drop_column("scored_events", "story_first")
    op.drop_column("scored_events", "story_id")
    op.drop_column("scored_events", "entity_links")
