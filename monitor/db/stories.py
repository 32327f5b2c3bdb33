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

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.db.schema import NewsStoryMemberRow
from monitor.records import ScoredEvent
from monitor.stories import STORY_WINDOW_S, Assignment, Member, assign, band_keys, story_key

LOCK_CLASS = 0x73746F72  # "stor"
LOCK_BUCKETS = 64
MEMBERS_KEPT_DAYS = 2
"""Members older than this (by event time) are deleted by the partition upkeep."""

_LOCK = sql("SELECT pg_advisory_xact_lock(:cls, b) FROM unnest(CAST(:buckets AS int[])) AS b")
_CANDIDATES = sql(
    "SELECT story_id, event_time, bands, sketch FROM news_story_members "
    "WHERE bands && CAST(:bands AS bigint[]) AND event_time BETWEEN :lo AND :hi"
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
        {"bands": every_band, "lo": news[0].event_time - window, "hi": news[-1].event_time + window},
    )
    pool = [(set(r.bands), r.event_time, Member(r.story_id, tuple(r.sketch))) for r in rows]
    assigned: dict[tuple[str, str], Assignment] = {}
    members = []
    for event in news:
        mine = set(bands[_key(event)])
        near = (m for b, t, m in pool if b & mine and abs(t - event.event_time) <= window)
        story = assign(event.sketch, story_key(*_key(event)), near)
        assigned[_key(event)] = story
        pool.append((mine, event.event_time, Member(story.story_id, event.sketch)))
        members.append(
            {
                "member_key": story_key(*_key(event)),
                "story_id": story.story_id,
                "event_time": event.event_time,
                "bands": list(mine),
                "sketch": list(event.sketch),
            }
        )
    await conn.execute(insert(NewsStoryMemberRow).on_conflict_do_nothing(index_elements=["member_key"]), members)
    return assigned
