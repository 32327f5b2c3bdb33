"""Stories in Postgres: each new news item joins a recent story or starts one, in its batch's
transaction, so every replica and every restart sees the same stories.

Why locks: two replicas may each store a reprint of one new story at the same moment; neither sees
the other's uncommitted member, so both would start a story. Each therefore takes transaction-
scoped advisory locks on the buckets of its items' LSH bands (sorted, so two batches cannot
deadlock) before reading the members: whichever reads second waits for the first to commit and
joins its story. The locks live in their own key space (the two-integer form), apart from the
alert locks, which are taken after them.

Replays: only items whose natural key is new in this transaction get here, so a replayed message
keeps the story it was given the first time. A story's id is derived from the natural key of the
item that started it, so a transaction retried after a failure gives the same ids.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.db.schema import NewsStoryMemberRow
from monitor.records import ScoredEvent
from monitor.stories import MEMBERS_PER_BAND, STORY_WINDOW_S, Assignment, Member, assign, band_keys, story_key

LOCK_CLASS = 0x73746F72  # "stor"
LOCK_BUCKETS = 64
MEMBERS_KEPT_DAYS = 2
"""Members older than this (by event time) are deleted by the partition upkeep."""

_LOCK = sql("SELECT pg_advisory_xact_lock(:cls, b) FROM unnest(CAST(:buckets AS int[])) AS b")
_CANDIDATES = sql(
    "SELECT m.story_id, m.event_time, m.sketch, array_agg(r.band) AS bands "
    "FROM (SELECT b.band, b.member_key, "
    "row_number() OVER (PARTITION BY b.band ORDER BY m.event_time DESC, b.member_key) AS newest "
    "FROM news_story_bands AS b JOIN news_story_members AS m USING (member_key) "
    "WHERE b.band = ANY(CAST(:bands AS bigint[])) AND m.event_time BETWEEN :lo AND :hi) AS r "
    "JOIN news_story_members AS m USING (member_key) "
    "WHERE r.newest <= :per_band "
    "GROUP BY m.member_key ORDER BY m.event_time, m.member_key"
)
"""Members in the batch's window sharing a band with it, at most `MEMBERS_PER_BAND` newest per
band, oldest first, with the bands they share."""
_INSERT_BANDS = sql(
    "INSERT INTO news_story_bands (band, member_key) "
    "SELECT * FROM unnest(CAST(:bands AS bigint[]), CAST(:members AS bigint[])) ON CONFLICT DO NOTHING"
)


def _key(event: ScoredEvent) -> tuple[str, str]:
    return event.message.stream, event.message.message_id


async def assign_stories(
    conn: AsyncConnection, events: Sequence[ScoredEvent]
) -> dict[tuple[str, str], Assignment]:
    """The story of each new news event with a sketch, by natural key; stores them as members."""
    news = sorted(
        (e for e in events if e.message.stream == "news" and e.sketch),
        key=lambda e: (e.event_time, e.message.message_id),
    )
    if not news:
        return {}
    bands = {_key(e): band_keys(e.sketch) for e in news}
    every_band = sorted({b for keys in bands.values() for b in keys})
    buckets = sorted({b % LOCK_BUCKETS for b in every_band})
    await conn.execute(_LOCK, {"cls": LOCK_CLASS, "buckets": buckets})
    window = timedelta(seconds=STORY_WINDOW_S)
    rows = await conn.execute(
        _CANDIDATES,
        {
            "bands": every_band,
            "lo": news[0].event_time - window,
            "hi": news[-1].event_time + window,
            "per_band": MEMBERS_PER_BAND,
        },
    )
    # Members by band key, oldest first: a headline's candidates are the newest under any of its keys.
    pool: dict[int, list[tuple[datetime, Member]]] = defaultdict(list)
    for row in rows:
        member = (row.event_time, Member.of(row.story_id, row.sketch))
        for band in row.bands:
            pool[band].append(member)
    assigned: dict[tuple[str, str], Assignment] = {}
    members: list[dict[str, object]] = []
    band_keys_of: list[int] = []
    band_members: list[int] = []
    for event in news:
        mine = bands[_key(event)]
        near = {
            id(m): m
            for band in mine
            for t, m in pool.get(band, [])[-MEMBERS_PER_BAND:]
            if abs(t - event.event_time) <= window
        }
        story = assign(event.sketch, story_key(*_key(event)), near.values())
        assigned[_key(event)] = story
        joined = (event.event_time, Member.of(story.story_id, event.sketch))
        for band in mine:
            pool[band].append(joined)
        members.append(
            {
                "member_key": story_key(*_key(event)),
                "story_id": story.story_id,
                "event_time": event.event_time,
                "sketch": list(event.sketch),
            }
        )
        band_keys_of += mine
        band_members += [story_key(*_key(event))] * len(mine)
    await conn.execute(insert(NewsStoryMemberRow).on_conflict_do_nothing(index_elements=["member_key"]), members)
    # Thousands of band rows a batch: one statement over two arrays, not a row of parameters each.
    await conn.execute(_INSERT_BANDS, {"bands": band_keys_of, "members": band_members})
    return assigned
