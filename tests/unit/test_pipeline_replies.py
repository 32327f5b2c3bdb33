"""The replies topic in the loop, against fakes: acknowledged before the offsets commit, retried."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from monitor.pipeline import Pipeline
from monitor.records import Scores, Stream
from tests.fakes import (
    DETECTOR,
    P0,
    FakeConsumer,
    FakeScorer,
    FakeStore,
    Log,
    committed_through,
    options,
    records,
    replies_topic,
    running,
)
from tests.waiting import until

FAST = (0.001, 0.01)


class ReplyingScorer(FakeScorer):
    """Suggests one reply for every text (the stream does not matter to the loop)."""

    def score(self, texts: Sequence[str], streams: Sequence[Stream]) -> list[Scores]:
        return [dataclasses.replace(s, reply_id="r1", reply_text="hello") for s in super().score(texts, streams)]


async def test_replies_are_acknowledged_by_the_topic_before_offsets_commit() -> None:
    log: Log = []
    consumer, store, topic = FakeConsumer(log), FakeStore(log), replies_topic(log)
    consumer.add(*records(0, ["one", "two"]))
    topic.down = True
    pipeline = Pipeline(
        options(10, retry_backoff_s=FAST), consumer, ReplyingScorer(), store, detector=DETECTOR, reply_sink=topic)
    async with running(pipeline):
        await until(lambda: topic.attempts >= 3)
        assert consumer.commits == [] and "replies_topic" in pipeline.health().failing
        topic.down = False
        await until(lambda: committed_through(consumer, P0) == 2)
        assert pipeline.health().replies_topic
    kinds = [entry[0] for entry in log]
    assert kinds.index("write") < kinds.index("replies topic") < kinds.index("commit")
    assert [(e.message.offset, e.scores.reply_id) for e in topic.sent] == [(0, "r1"), (1, "r1")]


async def test_events_without_a_reply_send_nothing() -> None:
    log: Log = []
    consumer, store, topic = FakeConsumer(log), FakeStore(log), replies_topic(log)
    consumer.add(*records(0, ["one", "two"]))
    pipeline = Pipeline(options(10), consumer, FakeScorer(), store, detector=DETECTOR, reply_sink=topic)
    async with running(pipeline):
        await until(lambda: committed_through(consumer, P0) == 2)
    assert topic.attempts == 0
