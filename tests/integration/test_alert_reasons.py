"""Alerts carry their reasons: Kafka -> real model -> Postgres -> explainer -> signed webhooks."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from monitor.alerts.cli import show_open_alerts
from monitor.tools.receiver import WebhookReceiver
from tests.fakes import FakeExplainer
from tests.integration.running import service_running, settings_for
from tests.kafka_helpers import fresh_topics, produce
from tests.waiting import until

pytestmark = pytest.mark.integration

QUERIES = Path(__file__).resolve().parents[2] / "docs" / "queries.sql"
SECRET = "whsec_" + base64.b64encode(b"alert-reasons-test-secret-01").decode()
CARD = "4111 1111 1111 1111"
HEADLINES = [
    "$ZTX shares plunge after profit warning and guidance cut",
    "$ZTX operating loss widens as demand collapses in Europe",
    "$ZTX sales fall sharply and the company cuts 2,000 jobs",
    "$ZTX net loss deepens as revenue drops 30%",
    "$ZTX posts bigger quarterly loss and warns on outlook",
]


def documented_query(heading: str) -> str:
    """A commented example query of docs/queries.sql (`--   ` lines after the heading)."""
    lines = QUERIES.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if heading in line)
    body = []
    for line in lines[start + 1 :]:
        if line.startswith("--   "):
            body.append(line[5:])
        elif body:
            break
    return "\n".join(body).rstrip(";")


async def produce_burst_and_fraud(bootstrap: str, news: str, customer: str) -> None:
    now = datetime.now(UTC)
    await produce(
        bootstrap,
        news,
        [
            {"id": f"ztx-{i}", "headline": h, "published_at": (now - timedelta(minutes=5 - i)).isoformat()}
            for i, h in enumerate(HEADLINES)
        ],
    )
    await produce(
        bootstrap,
        customer,
        [
            {
                "id": "m1",
                "text": f"Someone stole my card {CARD} and has been paying with it, block it please",
                "customer_id": "cust-42",
            }
        ],
    )


async def test_webhooks_name_the_words_behind_a_burst_and_a_fraud_report(
    broker, database_url: str, db: asyncpg.Connection, scorer
) -> None:  # type: ignore[no-untyped-def]
    news, customer = await fresh_topics(broker.bootstrap, partitions=1)
    await produce_burst_and_fraud(broker.bootstrap, news, customer)
    receiver = WebhookReceiver([SECRET]).start()
    settings = settings_for(
        broker.bootstrap, database_url, news, customer,
        webhook_url=(receiver.url,), webhook_secret=SECRET, dispatch_poll_interval_s=0.2,
    )
    try:
        async with service_running(settings, scorer):
            await until(lambda: len(receiver.delivered) >= 2, 120.0, 0.1)
    finally:
        receiver.stop()

    bodies = {d.payload["rule"]: d.payload for d in receiver.delivered}
    assert set(bodies) == {"negative_news_burst", "fraud_intent"}
    texts = {r["id"]: r["text"] for r in await db.fetch("SELECT id, text FROM scored_events")}

    burst = bodies["negative_news_burst"]
    # Every story is listed; a few representatives of the burst are explained, its newest among
    # them, not every headline.
    assert len(burst["evidence"]) == len(HEADLINES) == len(burst["evidence_details"])
    explained = [d for d in burst["evidence_details"] if d.get("explanation")]
    representatives = [d["event_id"] for d in explained]
    assert len(representatives) == 3 and burst["evidence"][-1] in representatives
    assert set(representatives) < set(burst["evidence"])
    named = set()
    for item in explained:
        for w in item["explanation"]:
            assert set(w) == {"word", "start", "end", "weight"} and w["weight"] > 0
            assert texts[item["event_id"]][w["start"] : w["end"]] == w["word"]
            named.add(w["word"].lower())
    assert named & {"plunge", "loss", "fall", "falls", "cuts", "warning", "collapses", "drops", "deepens"}

    fraud = bodies["fraud_intent"]
    [item] = fraud["evidence_details"]
    assert item["probability"] >= 0.5 and item["intents"]  # what was there before stays
    assert item["intent_explanation"] and all(w["weight"] > 0 for w in item["intent_explanation"])
    assert item["explanation"]
    assert CARD not in json.dumps(fraud) and "1111 1111 1111" not in json.dumps(fraud)
    for w in item["intent_explanation"] + item["explanation"]:
        assert texts[item["event_id"]][w["start"] : w["end"]] == w["word"]

    # The same reasons on the alerts, in SQL, and in `monitor alerts`.
    stored = await db.fetch("SELECT event_id, sentiment, intent FROM event_explanations")
    assert {r["event_id"] for r in stored} == set(representatives) | {item["event_id"]}
    alert = json.loads(await db.fetchval("SELECT evidence_details FROM alerts WHERE rule = 'fraud_intent'"))
    assert alert[0]["intent_explanation"] == item["intent_explanation"]
    analysts = await db.fetch(documented_query("The words behind an alert's evidence"))
    assert analysts and all(json.loads(r["sentiment_words"]) for r in analysts)
    table = "\n".join(await show_open_alerts(database_url))
    assert "words=" in table
    [as_json] = [json.loads(line) for line in await show_open_alerts(database_url, as_json=True)
                 if json.loads(line)["rule"] == "negative_news_burst"]
    assert sum("explanation" in d for d in as_json["evidence_details"]) == 3, "the representatives"

    # What an explanation adds to a webhook: notification written -> ready (-> delivered).
    waits = await db.fetch(
        "SELECT n.kind, extract(epoch FROM n.explained_at - n.created_at) AS explain_s,"
        " extract(epoch FROM min(d.attempted_at) - n.created_at) AS deliver_s,"
        " jsonb_array_length(n.payload->'evidence_details') AS items"
        " FROM alert_notifications n JOIN alert_deliveries d ON d.notification_id = n.id"
        " GROUP BY n.id"
    )
    print("explanation latency:", [dict(w) for w in waits])
    assert all(w["explain_s"] < 30 for w in waits)


@pytest.mark.parametrize("delay_s", [0.0, 8.0], ids=["fails", "too-slow"])
async def test_an_alert_that_cannot_be_explained_is_still_sent(
    broker, database_url: str, db: asyncpg.Connection, scorer, delay_s: float
) -> None:  # type: ignore[no-untyped-def]
    news, customer = await fresh_topics(broker.bootstrap, partitions=1)
    await produce_burst_and_fraud(broker.bootstrap, news, customer)
    receiver = WebhookReceiver([SECRET]).start()
    settings = settings_for(
        broker.bootstrap, database_url, news, customer,
        webhook_url=(receiver.url,), webhook_secret=SECRET, dispatch_poll_interval_s=0.2,
        alert_explain_timeout_s=3.0,
    )
    try:
        async with service_running(settings, FakeExplainer(scorer, failing=True, delay_s=delay_s)):
            await until(lambda: len(receiver.delivered) >= 2, 60, 0.1)
    finally:
        receiver.stop()
    bodies = {d.payload["rule"]: d.payload for d in receiver.delivered}
    assert set(bodies) == {"negative_news_burst", "fraud_intent"}
    # A burst's evidence still lists its stories, without words.
    burst = bodies["negative_news_burst"]["evidence_details"]
    assert burst and all("explanation" not in d and d["headline"] for d in burst)
    [item] = bodies["fraud_intent"]["evidence_details"]
    assert "explanation" not in item and item["probability"] >= 0.5
    assert await db.fetchval("SELECT count(*) FROM alert_notifications WHERE explained_at IS NULL") == 0
    # Never later than the bound (plus a poll), even for the one claimed behind a slow one.
    late = await db.fetchval("SELECT max(extract(epoch FROM explained_at - created_at)) FROM alert_notifications")
    assert late < 3.0 + 1.5
