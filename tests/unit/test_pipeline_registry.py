"""The loop with a Schema Registry that goes away and a dead-letter topic, against fakes."""

from __future__ import annotations

from monitor.errors import RegistryUnavailable
from monitor.pipeline import Pipeline
from monitor.records import SourceRecord
from tests.fakes import (
    DETECTOR,
    P0,
    TOPIC,
    FakeConsumer,
    FakeDecoder,
    FakeScorer,
    FakeStore,
    Log,
    assert_each_commit_follows_its_writes,
    committed_through,
    dead_letter_topic,
    framed,
    options,
    records,
    running,
)
from tests.waiting import until

FAST = (0.001, 0.01)


def framed_records(first_offset: int, schema_id: int, n: int) -> list[SourceRecord]:
    return [SourceRecord(TOPIC, 0, first_offset + i, framed(schema_id)) for i in range(n)]


async def test_records_wait_while_the_registry_is_away_and_none_is_dead_lettered() -> None:
    log: Log = []
    consumer, store = FakeConsumer(log), FakeStore(log)
    decoder = FakeDecoder({7: RegistryUnavailable("schema registry unavailable for schema id 7: ConnectError")})
    consumer.add(*records(0, ["plain one", "plain two"]), *framed_records(2, 7, 3))
    pipeline = Pipeline(
        options(10, retry_backoff_s=FAST), consumer, FakeScorer(), store, detector=DETECTOR, decoder=decoder)
    async with running(pipeline):
        await until(lambda: len(decoder.calls) >= 3 and not pipeline.health().registry)
        await until(lambda: len(decoder.calls) >= 6)  # tried again: the batch waits, whole
        assert consumer.commits == [] and store.dead == {} and store.events == {}
        decoder.answers[7] = {"headline": "ZTX falls"}  # the registry is back
        await until(lambda: committed_through(consumer, P0) == 5)
        assert pipeline.health().registry
    assert len(store.events) == 5 and store.dead == {}
    assert_each_commit_follows_its_writes(log)


async def test_dead_letters_are_acknowledged_by_the_topic_before_offsets_commit() -> None:
    log: Log = []
    consumer, store, topic = FakeConsumer(log), FakeStore(log), dead_letter_topic(log)
    decoder = FakeDecoder({})  # every schema id unknown
    consumer.add(*records(0, ["good"]), *framed_records(1, 99, 2))
    topic.down = True
    pipeline = Pipeline(
        options(10, retry_backoff_s=FAST), consumer, FakeScorer(), store, detector=DETECTOR,
        decoder=decoder, dead_letter_sink=topic)
    async with running(pipeline):
        await until(lambda: topic.attempts >= 3)
        assert consumer.commits == [] and not pipeline.health().dead_letter_topic
        topic.down = False
        await until(lambda: committed_through(consumer, P0) == 3)
        assert pipeline.health().dead_letter_topic
    kinds = [entry[0] for entry in log]
    assert kinds.index("write") < kinds.index("dead-letter topic") < kinds.index("commit")
    assert [(d.offset, d.reason.split(":")[0]) for d in topic.sent] == [(1, "schema id 99"), (2, "schema id 99")]


async def test_a_batch_without_dead_letters_sends_nothing_to_the_topic() -> None:
    log: Log = []
    consumer, store, topic = FakeConsumer(log), FakeStore(log), dead_letter_topic(log)
    consumer.add(*records(0, ["one", "two"]))
    pipeline = Pipeline(options(10), consumer, FakeScorer(), store, detector=DETECTOR, dead_letter_sink=topic)
    async with running(pipeline):
        await until(lambda: committed_through(consumer, P0) == 2)
    assert topic.attempts == 0
