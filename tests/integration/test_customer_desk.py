"""The customer desk through the service: out of scope recognised, a reply suggested, fraud still alerted."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

from monitor.alerts.config import load_rules
from tests.integration.running import service_running, settings_for
from tests.kafka_helpers import create_topics, produce, read_topic
from tests.waiting import wait_for_rows

pytestmark = pytest.mark.integration
WATCH_LIST = set(load_rules().rules.fraud_intent.intents)

MESSAGES = [
    {"id": "weather", "text": "What's the weather going to be like in London tomorrow?", "customer_id": "c-1"},
    {"id": "table", "text": "I want to book a table for two at an Italian restaurant tonight", "customer_id": "c-2"},
    {"id": "arrival", "text": "I ordered my new card two weeks ago and it still hasn't arrived", "customer_id": "c-3"},
    {
        "id": "stolen",
        "text": "My wallet was stolen last night and someone has been paying with my card 4111 1111 1111 1111",
        "customer_id": "c-4",
    },
]


async def test_out_of_scope_messages_replies_and_a_fraud_report(
    broker, database_url: str, db: asyncpg.Connection, scorer
) -> None:  # type: ignore[no-untyped-def]
    news, customer = f"news-{uuid.uuid4().hex[:6]}", f"cust-{uuid.uuid4().hex[:6]}"
    replies = f"replies-{uuid.uuid4().hex[:6]}"
    await create_topics(broker.bootstrap, [news, customer, replies], partitions=1)
    await produce(broker.bootstrap, customer, MESSAGES)
    settings = settings_for(broker.bootstrap, database_url, news, customer, replies_topic=replies)
    async with service_running(settings, scorer):
        assert await wait_for_rows(db, "alert_notifications", 1) >= 1

    rows = await db.fetch(
        "SELECT message_id, intent, intent_confidence, reply_id, reply_text, reply_score, urgency, queue"
        " FROM scored_events"
    )
    by_id = {r["message_id"]: r for r in rows}
    for key in ("weather", "table"):
        assert by_id[key]["intent"] == "out_of_scope"
        assert 0.5 <= by_id[key]["intent_confidence"] <= 1.0
        assert by_id[key]["reply_id"] == "out_of_scope"
        assert (by_id[key]["urgency"], by_id[key]["queue"]) == ("normal", "not_ours")
    assert by_id["arrival"]["intent"] in {"card_arrival", "card_delivery_estimate"}
    assert by_id["arrival"]["reply_id"] in {"card_arrival", "card_arrival_upset", "card_delivery_estimate"}
    assert 0.0 < by_id["arrival"]["reply_score"] <= 1.0
    stolen = by_id["stolen"]
    assert stolen["intent"] in WATCH_LIST and stolen["reply_id"] == stolen["intent"]  # the shipped reply of that intent
    assert (stolen["urgency"], stolen["queue"]) == ("fraud", "fraud")
    assert by_id["arrival"]["queue"] == "cards" and by_id["arrival"]["urgency"] == "normal"
    assert "ending 1111" in stolen["reply_text"] and "1111 1111 1111" not in stolen["reply_text"]

    [alert] = await db.fetch("SELECT entity FROM alerts WHERE rule = 'fraud_intent'")
    assert alert["entity"] == "c-4"
    [payload] = await db.fetch("SELECT payload FROM alert_notifications")
    [detail] = json.loads(payload["payload"])["evidence_details"]
    assert detail["reply"]["id"] == stolen["reply_id"] and detail["reply"]["text"] == stolen["reply_text"]
    hourly = await db.fetch("SELECT messages, out_of_scope FROM customer_out_of_scope_hourly")
    assert (sum(r["messages"] for r in hourly), sum(r["out_of_scope"] for r in hourly)) == (4, 2)

    # The replies topic: one record per message, keyed by customer, acknowledged before the commit.
    records = await read_topic(broker.bootstrap, replies, len(MESSAGES))
    sent = {r.key.decode(): json.loads(r.value) for r in records}  # type: ignore[attr-defined]
    assert set(sent) == {m["customer_id"] for m in MESSAGES}
    assert sent["c-4"]["reply_text"] == stolen["reply_text"] and sent["c-4"]["urgency"] == "fraud"
    assert sent["c-4"]["language"] == "en"
    assert sent["c-1"]["reply_id"] == "out_of_scope" and sent["c-1"]["message_id"] == "weather"
