"""The loop against a broker that forgets: a log replaced, truncated or expired (in-memory fakes).

Each batch is checked against the broker's log before it is written, and a quiet replica checks
its partitions now and then: a change is recorded once (its row, the stored position, its alert),
reading goes on where it says, and the natural keys of records without a producer id carry the
log's incarnation, so nothing of the new log is taken for the old one's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from monitor.config import Settings
from monitor.logwatch import Kind, LogState, fingerprint
from monitor.metrics import Metrics
from monitor.pipeline import Pipeline, PipelineOptions
from monitor.records import Partition, SourceRecord
from tests.fakes import DETECTOR, TOPIC, FakeConsumer, FakeScorer, FakeStore, Log, running
from tests.waiting import until

P0 = Partition(TOPIC, 0)
FAST = (0.001, 0.004)


def id_less(texts: Sequence[str], first_offset: int = 0) -> list[SourceRecord]:
    """Records whose producer gave no id: their natural key is their place in the log."""
    return [
        SourceRecord(TOPIC, 0, first_offset + i, json.dumps({"headline": t}).encode(), datetime.now(UTC))
        for i, t in enumerate(texts)
    ]


class ForgetfulBroker(FakeConsumer):
    """A partition whose log can be replaced, or lose its first records to retention."""

    def __init__(self, log: Log) -> None:
        super().__init__(log)
        self.start: dict[Partition, int] = {}

    def replace_log(self, partition: Partition, new: Sequence[SourceRecord]) -> None:
        self.logs[partition] = list(new)

    def expire_before(self, partition: Partition, offset: int) -> None:
        self.start[partition] = offset

    async def getmany(self, *, timeout_ms: int, max_records: int) -> Mapping[Partition, Sequence[SourceRecord]]:
        for p, first in self.start.items():
            self.position[p] = max(self.position[p], first)  # out of range: the earliest kept record
        return await super().getmany(timeout_ms=timeout_ms, max_records=max_records)


class Inspector:
    """The broker's view of its logs, as `monitor.kafka.LogInspector` gives it."""

    def __init__(self, broker: ForgetfulBroker) -> None:
        self.broker = broker
        self.asked = 0

    async def inspect(self, wanted: Mapping[Partition, int]) -> dict[Partition, LogState]:
        self.asked += 1
        states = {}
        for p, at in wanted.items():
            log, start = self.broker.logs[p], self.broker.start.get(p, 0)
            found = fingerprint(log[at]) if start <= at < len(log) else None
            states[p] = LogState(start, len(log), found)
        return states


def setup() -> tuple[Log, ForgetfulBroker, FakeStore, Pipeline, Metrics]:
    log: Log = []
    broker, store, metrics = ForgetfulBroker(log), FakeStore(log), Metrics()
    config = Settings(news_topics=(TOPIC,), customer_topics=("cust",), poll_timeout_ms=2, max_poll_records=4,
                      log_check_interval_s=0.02)
    options = PipelineOptions.of(config, write_backoff_s=FAST)
    pipeline = Pipeline(options, broker, FakeScorer(), store, detector=DETECTOR, metrics=metrics,
                        log_inspector=Inspector(broker))
    return log, broker, store, pipeline, metrics


def keys(store: FakeStore) -> set[str]:
    return {message_id for _, message_id in store.events}


async def test_a_replaced_log_that_grew_past_our_position_is_read_whole_in_a_new_incarnation() -> None:
    _, broker, store, pipeline, metrics = setup()
    broker.add(*id_less([f"old {i}" for i in range(10)]))
    async with running(pipeline):
        await until(lambda: store.offsets.get(P0) == 10)
        broker.replace_log(P0, id_less([f"new {i}" for i in range(14)]))  # the topic re-created, refilled
        await until(lambda: store.offsets.get(P0) == 14 and store.incarnations.get(P0) == 1)

    assert len(store.events) == 24, "the old log's ten and the new log's fourteen, each once"
    assert keys(store) >= {f"{TOPIC}:0:{o}/1" for o in range(14)}, "the new offsets are not the old ones"
    [change] = store.log_changes
    assert (change.kind, change.position, change.resume_at, change.incarnation) == (Kind.REPLACED, 10, 0, 1)
    assert metrics.kafka_log_changes.labels(TOPIC, "replaced")._value.get() == 1


async def test_a_quiet_partition_whose_new_log_is_shorter_is_noticed_and_read_from_its_start() -> None:
    _, broker, store, pipeline, _ = setup()
    broker.add(*id_less([f"old {i}" for i in range(10)]))
    async with running(pipeline):
        await until(lambda: store.offsets.get(P0) == 10)
        broker.replace_log(P0, id_less([f"new {i}" for i in range(4)]))  # offsets below our position
        await until(lambda: len(store.events) == 14)

    assert [c.kind for c in store.log_changes] == [Kind.TRUNCATED]
    assert store.offsets[P0] == 4 and store.incarnations[P0] == 1


async def test_records_deleted_before_they_were_read_are_reported_with_their_range_and_the_rest_lands() -> None:
    _, broker, store, pipeline, metrics = setup()
    broker.add(*id_less([f"headline {i}" for i in range(6)]))
    async with running(pipeline):
        await until(lambda: store.offsets.get(P0) == 6)
        # Ten more arrive and retention deletes the first six of them before the replica fetches.
        broker.add(*id_less([f"later {i}" for i in range(10)], first_offset=6))
        broker.expire_before(P0, 12)
        await until(lambda: store.offsets.get(P0) == 16)

    [change] = store.log_changes
    assert (change.kind, change.lost, change.resume_at, change.incarnation) == (Kind.EXPIRED, (6, 12), 12, 0)
    assert metrics.kafka_records_lost.labels(TOPIC)._value.get() == 6
    assert {o for _, o in store.events.values()} == set(range(6)) | set(range(12, 16))


async def test_the_log_we_read_is_checked_and_left_alone() -> None:
    _, broker, store, pipeline, _ = setup()
    inspector = pipeline.guard.inspector
    broker.add(*id_less([f"headline {i}" for i in range(12)]))
    async with running(pipeline):
        await until(lambda: store.offsets.get(P0) == 12)
        await until(lambda: isinstance(inspector, Inspector) and inspector.asked >= 5)

    assert store.log_changes == [] and len(store.events) == 12


async def test_a_batch_whose_log_check_goes_unanswered_is_fetched_and_checked_again_not_written_on_trust() -> None:
    """The broker replaced the log while its check went unanswered: the batch read from the new
    log is not written as if it continued the old one; once the broker answers, the change is found."""
    _, broker, store, pipeline, metrics = setup()
    inspector = pipeline.guard.inspector
    assert isinstance(inspector, Inspector)
    answer = inspector.inspect
    silent = [True]

    async def sometimes(wanted: Mapping[Partition, int]) -> dict[Partition, LogState]:
        return {} if silent[0] else await answer(wanted)

    inspector.inspect = sometimes  # type: ignore[method-assign]
    silent[0] = False
    broker.add(*id_less([f"old {i}" for i in range(8)]))
    async with running(pipeline):
        await until(lambda: store.offsets.get(P0) == 8)
        silent[0] = True
        broker.replace_log(P0, id_less([f"new {i}" for i in range(12)]))  # read on from 8: new records
        await until(lambda: metrics.kafka_log_unverified.labels(TOPIC)._value.get() >= 2)
        assert store.offsets[P0] == 8 and len(store.events) == 8, "nothing of the new log written unchecked"
        silent[0] = False
        await until(lambda: store.offsets.get(P0) == 12 and store.incarnations.get(P0) == 1)

    [change] = store.log_changes
    assert (change.kind, change.position, change.resume_at) == (Kind.REPLACED, 8, 0)
    assert len(store.events) == 20, "the old log's eight and the new log's twelve, each once"
