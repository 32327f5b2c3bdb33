"""Issue 21's "done when": Avro and JSON Schema input through a Schema Registry, the dead-letter
topic and kept headers, through `monitor run` (`run_service`) against the real broker and Postgres.

The registry's REST endpoints are served by `tests.registry_server` (no registry server installs
here); the records are written by confluent-kafka's own serializers and read by the service with
its registry client and deserializers. The model is a fake (the inputs are under test here).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence

import httpx
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from monitor.records import Scores, Stream
from tests.integration.poison import tables_holding
from tests.integration.running import HEADLINES, QUESTIONS, service_running, settings_for
from tests.kafka_helpers import Record, create_topics, produce_raw, read_topic
from tests.registry_server import RegistryServer
from tests.waiting import wait_for_rows, wait_for_status

pytestmark = pytest.mark.integration

NEWS_V1 = {
    "type": "record",
    "name": "News",
    "namespace": "com.example.wire",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "headline", "type": "string"},
        {"name": "body", "type": ["null", "string"], "default": None},
        {"name": "tickers", "type": {"type": "array", "items": "string"}, "default": []},
        {"name": "source", "type": ["null", "string"], "default": None},
    ],
}
NEWS_V2 = {**NEWS_V1, "fields": [*NEWS_V1["fields"], {"name": "desk", "type": "string", "default": "markets"}]}
CUSTOMER = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "CustomerMessage",
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "text": {"type": "string", "minLength": 1},
        "customer_id": {"type": "string"},
        "channel": {"type": "string"},
    },
    "required": ["id", "text", "customer_id"],
}
N_NEWS, N_CUSTOMER, DURING_OUTAGE = 400, 400, 50
CARD, MASKED = "4111 1111 1111 1111", "4111 11** **** 1111"


class NeutralScorer:
    model_version = "fake-registry-1"
    languages = frozenset({"en"})

    def score(self, texts: Sequence[str], streams: Sequence[Stream]) -> list[Scores]:
        return [
            Scores("neutral", 0.0, 0.9, *(("balance", 0.5) if s == "customer" else (None, None)))
            for s in streams
        ]


def frame(schema_id: int, payload: bytes) -> bytes:
    return b"\x00" + schema_id.to_bytes(4, "big") + payload


def trace(kind: str, i: int) -> list[tuple[str, bytes]]:
    return [("trace-id", f"{kind}-{i:04d}".encode()), ("source", b"wire")]


async def test_done_when_avro_and_json_schema_through_a_registry_dead_letter_topic_and_an_outage(
    broker, database_url, db, _free_http_port: int
) -> None:
    tag = uuid.uuid4().hex[:6]
    news, customer, dlq = f"news-{tag}", f"cust-{tag}", f"dlq-{tag}"
    await create_topics(broker.bootstrap, [news, customer], partitions=3)
    await create_topics(broker.bootstrap, [dlq], partitions=1)

    with RegistryServer() as registry:
        # The producers' side: confluent-kafka's serializers register the schemas and frame the values.
        client = SchemaRegistryClient({"url": registry.url})
        news_ctx = SerializationContext(news, MessageField.VALUE)
        cust_ctx = SerializationContext(customer, MessageField.VALUE)
        to_avro = AvroSerializer(client, json.dumps(NEWS_V1))
        to_avro_v2 = AvroSerializer(client, json.dumps(NEWS_V2))
        to_json = JSONSerializer(json.dumps(CUSTOMER), client)
        first = N_NEWS - DURING_OUTAGE
        news_records: list[Record] = [
            (
                to_avro(
                    {"id": f"n-{i}", "headline": f"{HEADLINES[i % 5]} ({i})", "tickers": ["ZTX", f"T{i % 7}"]},
                    news_ctx,
                ),
                trace("news", i),
            )
            for i in range(first)
        ]
        later_news: list[Record] = [
            (to_avro_v2({"id": f"n-{i}", "headline": HEADLINES[i % 5], "tickers": ["QRB"]}, news_ctx), trace("news", i))
            for i in range(first, N_NEWS)
        ]
        customer_records: list[Record] = [
            (
                to_json({"id": f"c-{i}", "text": QUESTIONS[i % 4], "customer_id": f"cust-{i % 40}"}, cust_ctx),
                trace("cust", i),
            )
            for i in range(N_CUSTOMER)
        ]
        news_id = int.from_bytes(news_records[0][0][1:5], "big")
        news_v2_id = int.from_bytes(later_news[0][0][1:5], "big")
        customer_id = int.from_bytes(customer_records[0][0][1:5], "big")
        assert len({news_id, news_v2_id, customer_id}) == 3

        # Bad input, one of each kind, a card number in one of them (value and header).
        avro_payload = news_records[0][0][5:]
        bad_news: list[Record] = [
            (frame(4242, avro_payload), [("trace-id", b"bad-unknown")]),
            (news_records[1][0][:12], [("trace-id", b"bad-truncated"), ("note", CARD.encode())]),
        ]
        no_customer_id = json.dumps({"id": "c-bad", "text": f"card {CARD}"}).encode()  # the schema requires one
        bad_customer: list[Record] = [
            (frame(customer_id, no_customer_id), [("trace-id", b"bad-js")]),
            (b"just some text, not JSON", [("trace-id", b"bad-unframed")]),
        ]
        await produce_raw(broker.bootstrap, news, [*news_records[:100], *bad_news, *news_records[100:]])
        await produce_raw(broker.bootstrap, customer, [*customer_records[:200], *bad_customer, *customer_records[200:]])

        port = _free_http_port
        settings = settings_for(
            broker.bootstrap,
            database_url,
            news,
            customer,
            http_port=port,
            schema_registry_url=registry.url,
            dead_letter_topic=dlq,
        )
        base_url = f"http://127.0.0.1:{port}"
        async with service_running(settings, NeutralScorer()), httpx.AsyncClient(base_url=base_url) as http:
            assert await wait_for_rows(db, "scored_events", first + N_CUSTOMER, within_s=180) == first + N_CUSTOMER
            assert await wait_for_rows(db, "dead_letters", 4, within_s=30) == 4
            assert await wait_for_status(http, "/readyz", 200, within_s=30) == 200

            # The registry goes away; records with a schema id not yet seen arrive meanwhile.
            registry.down()
            await produce_raw(broker.bootstrap, news, later_news)
            assert await wait_for_status(http, "/readyz", 503, within_s=30) == 503
            await asyncio.sleep(3)
            assert await db.fetchval("SELECT count(*) FROM scored_events") == first + N_CUSTOMER
            assert await db.fetchval("SELECT count(*) FROM dead_letters") == 4, "an outage was dead-lettered"
            registry.up()  # the same port
            assert await wait_for_rows(db, "scored_events", N_NEWS + N_CUSTOMER, within_s=120) == N_NEWS + N_CUSTOMER
            assert await wait_for_status(http, "/readyz", 200, within_s=30) == 200
            await asyncio.sleep(1)
        requests = list(registry.requests)

    # 800 rows, tickers and customer ids kept, headers kept.
    assert await db.fetchval("SELECT count(*) FROM scored_events") == N_NEWS + N_CUSTOMER
    tagged = "SELECT count(*) FROM scored_events WHERE stream = 'news' AND $1 = ANY(entities)"
    assert await db.fetchval(tagged, "ZTX") == first
    assert await db.fetchval(tagged, "QRB") == DURING_OUTAGE
    assert await db.fetchval("SELECT count(DISTINCT customer_id) FROM scored_events WHERE stream = 'customer'") == 40
    assert await db.fetchval("SELECT count(*) FROM scored_events WHERE headers->>'source' = 'wire'") == 800
    assert await db.fetchval("SELECT headers->>'trace-id' FROM scored_events WHERE message_id = 'c-7'") == "cust-0007"
    assert await db.fetchval("SELECT payload->>'desk' FROM scored_events WHERE message_id = 'n-399'") == "markets"

    # One dead letter per bad record, the reason naming the schema id where there was one.
    rows = await db.fetch("SELECT source_topic, source_offset, reason, headers FROM dead_letters ORDER BY reason")
    reasons = {json.loads(r["headers"])["trace-id"]: r["reason"] for r in rows}
    assert reasons["bad-unknown"].startswith("schema id 4242: unknown to the schema registry"), reasons
    assert reasons["bad-truncated"].startswith(f"schema id {news_id}: cannot decode the Avro payload"), reasons
    assert reasons["bad-js"].startswith(f"schema id {customer_id}: cannot decode the JSON Schema payload"), reasons
    assert "customer_id" in reasons["bad-js"]
    assert reasons["bad-unframed"].startswith("invalid JSON: "), reasons
    assert await tables_holding(db, CARD.replace(" ", "")) == []

    # The same four on the dead-letter topic: masked bytes, reason and origin in Connect's headers.
    letters = await read_topic(broker.bootstrap, dlq, expected=4)
    by_trace = {}
    for letter in letters:
        headers = {k: v.decode() for k, v in letter.headers}  # type: ignore[attr-defined]
        by_trace[headers["trace-id"]] = (headers, letter.value)  # type: ignore[attr-defined]
    assert set(by_trace) == set(reasons), by_trace.keys()
    stored = {json.loads(r["headers"])["trace-id"]: r for r in rows}
    for name, (headers, value) in by_trace.items():
        assert headers["__connect.errors.exception.message"] == reasons[name]
        assert headers["__connect.errors.topic"] == stored[name]["source_topic"]
        assert int(headers["__connect.errors.offset"]) == stored[name]["source_offset"]
        assert headers["__connect.errors.partition"].isdigit()
        assert CARD.replace(" ", "").encode() not in (value or b"").replace(b" ", b"")
    assert by_trace["bad-truncated"][0]["note"] == MASKED
    assert by_trace["bad-unframed"][1] == b"just some text, not JSON"

    # Each schema fetched once, and cached.
    fetched = [path for method, path in requests if method == "GET" and path.startswith("/schemas/ids/")]
    for schema_id in (news_id, news_v2_id, customer_id):
        assert fetched.count(f"/schemas/ids/{schema_id}") == 1, fetched
