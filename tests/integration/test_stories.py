"""Done when (issue 31): bursts count stories, not reprints, and companies come from the text.

Through the real service (`monitor run` in-process), the real model and the shipped rules: eight
reprints and rewrites of one negative Boeing story from different outlets within ten minutes, no
tickers, no cashtags, raise no burst and are at most two stories linked to BA; six distinct
negative stories naming only "Intel" within fifteen minutes raise one burst for INTC whose
evidence lists six stories.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.integration.running import service_running, settings_for
from tests.kafka_helpers import fresh_topics, produce
from tests.waiting import until

pytestmark = pytest.mark.integration

BOEING = [
    ("Reuters", "Boeing shares slide after regulators ground 737 MAX fleet again"),
    ("Reuters", "UPDATE 1-Boeing shares slide after regulators ground 737 MAX fleet again"),
    ("MarketWatch", "Boeing shares slide after regulators ground 737 MAX fleet again - MarketWatch"),
    ("Yahoo", "BRIEF-Boeing shares slide after regulators ground 737 MAX fleet again"),
    ("CNBC", "Boeing shares slide as regulators ground 737 MAX fleet again"),
    ("AP", "Boeing shares slide after regulators ground the 737 MAX fleet once again"),
    ("Bloomberg", "UPDATE 2-Boeing shares slide after US regulators ground 737 MAX fleet again"),
    ("Investing", "Boeing shares slide after regulators again ground 737 MAX fleet"),
]
INTEL = [
    "Intel shares plunge after weak revenue forecast",
    "Intel to cut 15000 jobs as losses mount",
    "Intel stock sinks after EU fines chipmaker over rebates",
    "Intel downgraded to junk by Moody's",
    "Intel delays Ohio chip factory amid heavy losses",
    "Intel shares tumble as CEO quits and turnaround falters",
]


async def test_reprints_are_one_story_and_bursts_count_stories(
    broker, database_url: str, db: asyncpg.Connection, scorer
) -> None:  # type: ignore[no-untyped-def]
    news, customer = await fresh_topics(broker.bootstrap, partitions=2)
    now = datetime.now(UTC)

    def at(minutes: float) -> str:
        return (now - timedelta(minutes=minutes)).isoformat()

    messages = [
        {"id": f"ba-{i}", "headline": h, "source": src, "published_at": at(10 - i)}
        for i, (src, h) in enumerate(BOEING)
    ] + [
        {"id": f"intc-{i}", "headline": h, "source": "Reuters", "published_at": at(12 - 2 * i)}
        for i, h in enumerate(INTEL)
    ]
    await produce(broker.bootstrap, news, messages)
    settings = settings_for(broker.bootstrap, database_url, news, customer)
    async with service_running(settings, scorer):

        async def all_stored() -> bool:
            return await db.fetchval("SELECT count(*) FROM scored_events") >= len(messages)

        async def intel_alert() -> bool:
            return await db.fetchval("SELECT count(*) FROM alerts WHERE entity = 'INTC'") >= 1

        await until(all_stored, 120.0, 0.2)
        await until(intel_alert, 30.0, 0.2)
        await asyncio.sleep(1.0)  # a second alert, or a Boeing one, would show by now

    rows = await db.fetch(
        "SELECT message_id, entities, entity_links, story_id, story_first, sentiment FROM scored_events "
        "WHERE stream = 'news' ORDER BY message_id"
    )
    boeing = [r for r in rows if r["message_id"].startswith("ba-")]
    intel = [r for r in rows if r["message_id"].startswith("intc-")]
    assert all(r["sentiment"] == "negative" for r in rows), [(r["message_id"], r["sentiment"]) for r in rows]
    assert all(r["entities"] == ["BA"] for r in boeing)
    assert all(r["entities"][0] == "INTC" for r in intel)  # "downgraded by Moody's" names MCO too
    assert '"how": "name"' in boeing[0]["entity_links"] and '"relevance": "subject"' in boeing[0]["entity_links"]
    assert len({r["story_id"] for r in boeing}) <= 2
    assert sum(r["story_first"] for r in boeing) == len({r["story_id"] for r in boeing})
    assert len({r["story_id"] for r in intel}) == 6

    alerts = await db.fetch("SELECT rule, entity, event_count, evidence_details FROM alerts")
    assert [(a["rule"], a["entity"]) for a in alerts] == [("negative_news_burst", "INTC")]
    details = json.loads(alerts[0]["evidence_details"])
    assert alerts[0]["event_count"] == 6
    assert len({d["story_id"] for d in details}) == 6, (alerts[0], [(r["message_id"], r["story_id"]) for r in intel])
    assert {d["headline"] for d in details} == set(INTEL)
    assert all(d["outlets"] == 1 and d["sentiment"] == "negative" for d in details)

    story = await db.fetchrow("SELECT * FROM stories WHERE 'BA' = ANY(entities) ORDER BY items DESC LIMIT 1")
    assert story["items"] >= 7 and story["sources"] >= 6
    assert story["first_headline"] == BOEING[0][1] and story["first_sentiment"] == "negative"
