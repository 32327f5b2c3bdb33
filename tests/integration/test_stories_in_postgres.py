"""Stories assigned in the batch's transaction, against real Postgres: shared by replicas,
kept across restarts and replays."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from monitor.db.connection import make_engine
from monitor.db.partitions import maintain_partitions
from monitor.db.store import Store
from monitor.records import ScoredEvent
from monitor.stories import BANDS, MEMBERS_PER_BAND, story_sketch
from tests.alert_helpers import alert_store, batch, news_event, rules

pytestmark = pytest.mark.integration

_ids = itertools.count()
REPRINTS = [
    "{c} shares slide after regulators ground {c} fleet again",
    "UPDATE 1-{c} shares slide after regulators ground {c} fleet again",
    "{c} shares slide as regulators ground {c} fleet again - Reuters",
    "BRIEF-{c} shares slide after regulators ground {c} fleet again",
]
WORDS = ["copper", "tin", "lumber", "wheat", "cocoa", "nickel", "cotton", "sugar", "coffee", "zinc", "barley", "rubber"]


def headline(text: str, *, partition: int = 0, age_s: float = 0.0, entities: tuple[str, ...] = ()) -> ScoredEvent:
    event = news_event(f"h{next(_ids)}", entities=entities, partition=partition, age_s=age_s)
    return replace(event, message=replace(event.message, text=text), sketch=story_sketch(text))


async def stories_of(db: asyncpg.Connection, prefix: str) -> dict[str, tuple[int, bool]]:
    rows = await db.fetch("SELECT text, story_id, story_first FROM scored_events WHERE text LIKE $1", f"%{prefix}%")
    return {r["text"]: (r["story_id"], r["story_first"]) for r in rows}


async def test_two_replicas_storing_reprints_of_one_new_story_at_once_make_one_story(
    database_url: str, db: asyncpg.Connection
) -> None:
    a, b = Store(make_engine(database_url)), Store(make_engine(database_url))
    try:
        for n in range(10):
            # Each round its own story: its words are not in any other round's.
            company = f"Acme{n}"
            words = " ".join(WORDS[n : n + 3])
            base = f"{company} {words} output falls as {WORDS[n + 2]} prices sink"
            variants = [base, f"UPDATE 1-{base}", f"{base} - Reuters", f"BRIEF-{base}"]
            half_a = batch(*(headline(h, partition=0) for h in variants[:2]))
            half_b = batch(*(headline(h, partition=1) for h in variants[2:]))
            await asyncio.gather(a.write(half_a), b.write(half_b))
            stories = await stories_of(db, company)
            assert len(stories) == 4
            assert len({s for s, _ in stories.values()}) == 1, stories  # never two
            assert sum(first for _, first in stories.values()) == 1
    finally:
        await a.close()
        await b.close()


async def test_replays_keep_their_story_and_a_restart_finds_the_recent_ones(
    database_url: str, db: asyncpg.Connection
) -> None:
    first = batch(headline(REPRINTS[0].format(c="Globex")), headline("Globex names a new chief executive"))
    store = Store(make_engine(database_url))
    try:
        await store.write(first)
        before = await stories_of(db, "Globex")
        await store.write(first)  # a replay: nothing inserted, nothing reassigned
        assert await stories_of(db, "Globex") == before
        assert len({s for s, _ in before.values()}) == 2
    finally:
        await store.close()
    restarted = Store(make_engine(database_url))  # no state but Postgres's
    try:
        await restarted.write(batch(headline(REPRINTS[1].format(c="Globex"))))
        await restarted.write(batch(headline(REPRINTS[2].format(c="Globex"), age_s=2 * 86_400)))  # too old to join
    finally:
        await restarted.close()
    after = await stories_of(db, "Globex")
    story = before[REPRINTS[0].format(c="Globex")][0]
    assert after[REPRINTS[1].format(c="Globex")] == (story, False)
    assert after[REPRINTS[2].format(c="Globex")][0] != story
    members = await db.fetchval("SELECT count(*) FROM news_story_members")
    assert members == 4
    view = await db.fetchrow("SELECT * FROM stories WHERE story_id = $1", story)
    assert view["items"] == 2 and view["first_headline"] == REPRINTS[0].format(c="Globex")
    assert view["first_seen"] <= datetime.now(UTC) + timedelta(seconds=1)


async def test_a_story_reprinted_many_times_is_found_among_its_newest_members(
    database_url: str, db: asyncpg.Connection
) -> None:
    """Past `MEMBERS_PER_BAND` reprints a headline is compared with the newest of them only (so a
    batch's write does not grow with the story): a reprint still joins, a new story still starts."""
    reprints = [REPRINTS[i % len(REPRINTS)].format(c="Hooli") for i in range(3 * MEMBERS_PER_BAND)]
    store = Store(make_engine(database_url))
    try:
        for start in range(0, len(reprints), MEMBERS_PER_BAND // 2):
            chunk = reprints[start : start + MEMBERS_PER_BAND // 2]
            await store.write(batch(*(headline(h, age_s=len(reprints) - start - i) for i, h in enumerate(chunk))))
        await store.write(batch(headline(f"WRAPUP 2-{REPRINTS[0].format(c='Hooli')}"), headline("Hooli opens a lab")))
    finally:
        await store.close()
    rows = await db.fetch("SELECT text, story_id, story_first FROM scored_events WHERE text LIKE '%Hooli%'")
    story = {r["story_id"] for r in rows if "lab" not in r["text"]}
    assert len(story) == 1 and sum(r["story_first"] for r in rows if "lab" not in r["text"]) == 1
    assert [r["story_id"] for r in rows if "lab" in r["text"]] != list(story)
    view = await db.fetchrow("SELECT * FROM stories WHERE story_id = $1", story.pop())
    assert view["items"] == len(reprints) + 1


async def test_the_upkeep_forgets_members_past_any_story_window(database_url: str, db: asyncpg.Connection) -> None:
    engine = make_engine(database_url)
    store = Store(engine)
    try:
        await store.write(batch(headline("Initech recalls staplers", age_s=3 * 86_400), headline("Initech hires")))
        assert await db.fetchval("SELECT count(*) FROM news_story_bands") == 2 * BANDS
        await maintain_partitions(engine, retention_days=0)
        assert await db.fetchval("SELECT count(*) FROM news_story_members") == 1
        assert await db.fetchval("SELECT count(*) FROM news_story_bands") == BANDS
        assert await db.fetchval("SELECT count(*) FROM scored_events WHERE story_id IS NOT NULL") == 2  # rows stay
    finally:
        await store.close()


async def test_an_open_burst_grows_by_new_stories_not_by_reprints(database_url: str, db: asyncpg.Connection) -> None:
    store = alert_store(database_url, rules())
    stories = [f"Umbrella {w} {v} as {x} slump deepens" for w, v, x in zip(WORDS, WORDS[3:], WORDS[6:], strict=False)]
    try:
        raised = await store.write(batch(*(headline(h, entities=("UMB",), age_s=60) for h in stories[:5])))
        assert [a.event_count for a in raised.alerts.raised] == [5]
        await store.write(batch(headline(f"UPDATE 1-{stories[0]}", entities=("UMB",))))  # a reprint
        assert await db.fetchval("SELECT event_count FROM alerts") == 5
        await store.write(batch(headline(stories[5], entities=("UMB",))))  # a new story
        row = await db.fetchrow("SELECT event_count, evidence, evidence_details FROM alerts")
        details = json.loads(row["evidence_details"])
        assert row["event_count"] == 6 and len(row["evidence"]) == 6
        assert [d["headline"] for d in details] == stories[:6]
        assert all(d["items"] == 1 for d in details)  # as when each story was counted
    finally:
        await store.close()
