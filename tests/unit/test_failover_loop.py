"""The loop against a database that fails over and loses its last transactions (in-memory fakes).

The database's own offsets are the truth: after an outage, or when a write finds them behind what
was written, the loop drops the batches in flight, reads the offsets again and seeks there, so
whatever the database lost is fetched again and nothing is doubled.
"""

from __future__ import annotations

import threading

from structlog.testing import capture_logs

from monitor.batch import WriteBatch, WriteResult
from monitor.errors import StoreUnavailable
from monitor.metrics import Metrics
from monitor.pipeline import Pipeline
from monitor.records import Partition
from tests.fakes import (
    DETECTOR,
    P0,
    P1,
    FakeConsumer,
    FakeScorer,
    FakeStore,
    Log,
    committed_through,
    options,
    records,
    running,
)
from tests.waiting import until

FAST = (0.001, 0.004)


def stored_offsets_of(store: FakeStore, partition: Partition) -> list[int]:
    return sorted(o for p, o in store.events.values() if p == partition.partition)


async def test_a_failover_that_lost_transactions_is_fetched_again_from_the_database_offsets() -> None:
    log: Log = []
    consumer, store = FakeConsumer(log), FakeStore(log)
    consumer.add(*records(0, [f"headline {i}" for i in range(10)]))
    pipeline = Pipeline(options(2, write_backoff_s=FAST), consumer, FakeScorer(), store, detector=DETECTOR)
    async with running(pipeline):
        await until(lambda: committed_through(consumer, P0) == 4)
        standby = store.snapshot()  # the standby stops replaying here
        await until(lambda: committed_through(consumer, P0) == 10)
        store.down = True  # the primary dies, with offsets 4..9 that Kafka has as committed
        store.fail_over_to(standby)
        consumer.add(*records(0, [f"later {i}" for i in range(3)], first_offset=10))
        await until(lambda: store.offset_reads >= 2)
        store.down = False  # the standby is promoted
        await until(lambda: store.offsets.get(P0) == 13)

    assert ("seek", P0, 4) in log
    assert stored_offsets_of(store, P0) == list(range(13)), "each record once, the lost ones again"
    assert consumer.kafka_committed[P0] == 13


async def test_a_failover_the_pool_never_noticed_is_caught_by_the_offsets_check() -> None:
    """No outage seen (the pool reconnected quietly): the write finds the offsets behind and aborts."""
    log: Log = []
    consumer, store = FakeConsumer(log), FakeStore(log)
    consumer.add(*records(0, [f"headline {i}" for i in range(6)]))
    pipeline = Pipeline(options(2, write_backoff_s=FAST), consumer, FakeScorer(), store, detector=DETECTOR)
    with capture_logs() as logs:
        async with running(pipeline):
            await until(lambda: committed_through(consumer, P0) == 2)
            standby = store.snapshot()
            await until(lambda: committed_through(consumer, P0) == 6)
            store.fail_over_to(standby)
            consumer.add(*records(0, ["after the failover"], first_offset=6))
            await until(lambda: store.offsets.get(P0) == 7)

    assert ("seek", P0, 2) in log
    assert stored_offsets_of(store, P0) == list(range(7))
    assert any("lost transactions" in e["event"] and e["log_level"] == "error" for e in logs)


async def test_batches_in_flight_before_an_outage_are_dropped_not_written_after_it() -> None:
    log: Log = []
    consumer, store = FakeConsumer(log), FakeStore(log)
    gate = threading.Event()
    scorer = FakeScorer(gate)
    consumer.add(*records(0, [f"headline {i}" for i in range(6)]))
    pipeline = Pipeline(options(2, workers=2, write_backoff_s=FAST), consumer, scorer, store, detector=DETECTOR)
    async with running(pipeline, gate):
        await until(lambda: scorer.calls == 2)  # two batches in flight
        store.down = True
        gate.set()
        await until(lambda: store.offset_reads >= 3)
        assert store.attempts == 1, "a batch fetched before the outage was tried on the database again"
        store.down = False
        await until(lambda: store.offsets.get(P0) == 6)

    seek = log.index(("seek", P0, 0))
    assert all(entry[0] != "write" for entry in log[:seek])
    assert stored_offsets_of(store, P0) == list(range(6))


async def test_on_assignment_each_partition_starts_at_the_database_offset_else_at_kafkas() -> None:
    log: Log = []
    consumer, store = FakeConsumer(log, [P0, P1]), FakeStore(log)
    store.offsets = {P0: 3}  # Postgres has P0 up to 3; P1 was never stored there
    consumer.kafka_committed = {P0: 5, P1: 2}
    consumer.add(*records(0, [f"a{i}" for i in range(6)]), *records(1, [f"b{i}" for i in range(6)]))
    pipeline = Pipeline(options(20, write_backoff_s=FAST), consumer, FakeScorer(), store, detector=DETECTOR)
    with capture_logs() as logs:
        await pipeline.joined()  # as the rebalance listener does, before the first fetch
        async with running(pipeline):
            await until(lambda: store.offsets.get(P0) == 6 and store.offsets.get(P1) == 6)

    assert not [e for e in logs if "dropping" in e["event"]], "a normal assignment drops nothing"

    assert [e for e in log if e[0] == "seek"] == [("seek", P0, 3), ("seek", P1, 2)]
    assert stored_offsets_of(store, P0) == [3, 4, 5]
    assert stored_offsets_of(store, P1) == [2, 3, 4, 5]


async def test_a_database_that_lost_all_of_a_partition_replays_it_from_the_start() -> None:
    log: Log = []
    consumer, store = FakeConsumer(log), FakeStore(log)
    empty = store.snapshot()
    consumer.add(*records(0, [f"headline {i}" for i in range(4)]))
    pipeline = Pipeline(options(2, write_backoff_s=FAST), consumer, FakeScorer(), store, detector=DETECTOR)
    async with running(pipeline):
        await until(lambda: committed_through(consumer, P0) == 4)
        store.down = True
        store.fail_over_to(empty)
        consumer.add(*records(0, ["later"], first_offset=4))
        await until(lambda: store.offset_reads >= 1)
        store.down = False
        await until(lambda: store.offsets.get(P0) == 5)

    assert ("seek", P0, 0) in log  # not Kafka's 4: this replica saw the database hold offsets
    assert stored_offsets_of(store, P0) == list(range(5))


async def test_a_database_that_answers_reads_but_refuses_writes_is_retried_with_growing_waits() -> None:
    """Read-only or out of disk: the offsets read succeeds, each write fails; waits still grow."""
    log: Log = []
    consumer, store = FakeConsumer(log), FakeStore(log)
    consumer.add(*records(0, ["one", "two"]))
    metrics = Metrics()
    pipeline = Pipeline(
        options(10, write_backoff_s=(0.002, 1.0)), consumer, FakeScorer(), store, detector=DETECTOR, metrics=metrics
    )
    real_write = store.write
    refusing = True

    async def write_refused_while_read_only(batch: WriteBatch) -> WriteResult:
        if refusing:
            store.attempts += 1
            raise StoreUnavailable("Postgres unavailable: DBAPIError (SQLSTATE 25006)")
        return await real_write(batch)

    store.write = write_refused_while_read_only  # type: ignore[method-assign]
    with capture_logs() as logs:
        async with running(pipeline):
            await until(lambda: store.attempts >= 5)
            assert not pipeline.health().store
            refusing = False
            await until(lambda: store.offsets.get(P0) == 2)
            assert pipeline.health().store

    waits = [e["retry_in_s"] for e in logs if e["event"] == "database unavailable; retrying"]
    assert len(waits) >= 4
    assert max(waits) > 4 * min(waits), "the waits did not grow between refused writes"
    assert store.dead == {}, "nothing is dead-lettered for an outage"
    assert stored_offsets_of(store, P0) == [0, 1]


async def test_a_failover_while_the_stream_is_quiet_is_noticed_by_the_offsets_check() -> None:
    """No message comes after the failover, so no write fails: the periodic check finds the hole."""
    log: Log = []
    consumer, store = FakeConsumer(log), FakeStore(log)
    consumer.add(*records(0, [f"headline {i}" for i in range(6)]))
    pipeline = Pipeline(
        options(2, write_backoff_s=FAST, offsets_check_s=0.01), consumer, FakeScorer(), store, detector=DETECTOR)
    async with running(pipeline):
        await until(lambda: committed_through(consumer, P0) == 2)
        standby = store.snapshot()
        await until(lambda: committed_through(consumer, P0) == 6)
        store.fail_over_to(standby)
        await until(lambda: store.offsets.get(P0) == 6)

    assert ("seek", P0, 2) in log
    assert stored_offsets_of(store, P0) == list(range(6))


async def test_an_assignment_while_the_database_is_away_seeks_once_it_answers() -> None:
    log: Log = []
    consumer, store = FakeConsumer(log), FakeStore(log)
    store.offsets = {P0: 2}
    store.down = True
    consumer.add(*records(0, [f"headline {i}" for i in range(4)]))
    pipeline = Pipeline(options(10, write_backoff_s=FAST), consumer, FakeScorer(), store, detector=DETECTOR)
    await pipeline.joined()  # returns: the listener never waits out an outage
    assert pipeline.resync.pending and not pipeline.health().store
    async with running(pipeline):
        await until(lambda: store.offset_reads >= 3)
        assert store.attempts == 0, "a batch was written before the seek"
        store.down = False
        await until(lambda: store.offsets.get(P0) == 4)

    assert [e for e in log if e[0] == "seek"] == [("seek", P0, 2)]
    assert stored_offsets_of(store, P0) == [2, 3]
