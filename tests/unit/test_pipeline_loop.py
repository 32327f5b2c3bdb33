"""The consume -> score -> write -> commit loop against in-memory fakes of its ports (`tests.fakes`).

Each test states an ordering or a count the loop must keep, read from the fakes' shared log.
Waits are bounded waits on conditions (`tests.waiting.until`).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

from structlog.testing import capture_logs

from monitor.batch import CommittedBatch
from monitor.metrics import Metrics
from monitor.pipeline import Pipeline
from tests.fakes import (
    DETECTOR,
    P0,
    P1,
    TOPIC,
    FakeConsumer,
    FakeScorer,
    FakeStore,
    Log,
    assert_each_commit_follows_its_writes,
    committed_through,
    options,
    records,
    running,
)
from tests.waiting import until


async def test_offsets_commit_after_their_rows_are_written_and_in_fetch_order() -> None:
    log: Log = []
    consumer, store = FakeConsumer(log), FakeStore(log)
    second_scored = threading.Event()
    scorer = FakeScorer()

    def first_call_finishes_last(call: int) -> None:
        if call == 1:
            assert second_scored.wait(10), "the second batch was never scored beside the first"
        elif call == 2:
            second_scored.set()

    scorer.hook = first_call_finishes_last
    consumer.add(*records(0, ["one", "two", "three", "four"]))
    pipeline = Pipeline(options(2, workers=2), consumer, scorer, store, detector=DETECTOR)
    async with running(pipeline):
        await until(lambda: committed_through(consumer, P0) == 4)

    # The second batch was scored first, yet the first batch was written and committed first.
    assert consumer.commits == [{P0: 2}, {P0: 4}]
    assert [e[0] for e in log] == ["write", "commit", "write", "commit"]
    assert_each_commit_follows_its_writes(log)
    assert len(store.events) == 4


async def test_pauses_while_busy_keeps_polling_and_resumes_when_the_work_is_done() -> None:
    log: Log = []
    consumer, store = FakeConsumer(log), FakeStore(log)
    gate = threading.Event()
    scorer = FakeScorer(gate)
    consumer.add(*records(0, [f"headline {i}" for i in range(6)]))
    pipeline = Pipeline(options(2, workers=1), consumer, scorer, store, detector=DETECTOR)
    async with running(pipeline, gate):
        await until(lambda: scorer.calls == 1)
        # The one worker is busy: the partition is paused, but the consumer keeps polling.
        start = consumer.polls_while_paused
        await until(lambda: consumer.polls_while_paused >= start + 5)
        assert consumer.paused == {P0}
        assert len(consumer.pending[P0]) == 4, "records were fetched from a paused partition"
        assert consumer.commits == []
        gate.set()
        await until(lambda: committed_through(consumer, P0) == 6)
        await until(lambda: not consumer.paused)

    assert len(store.events) == 6
    assert_each_commit_follows_its_writes(log)


async def test_drain_before_a_revoke_writes_and_commits_what_was_fetched_and_fetches_nothing_more() -> None:
    log: Log = []
    consumer, store = FakeConsumer(log), FakeStore(log)
    gate = threading.Event()
    scorer = FakeScorer(gate)
    consumer.add(*records(0, [f"headline {i}" for i in range(6)]))
    pipeline = Pipeline(options(2, workers=1), consumer, scorer, store, detector=DETECTOR)

    async def revoke() -> None:
        """What the rebalance listener does: drain, then the partition goes."""
        await pipeline.drain()
        log.append(("drained",))
        consumer.assigned.discard(P0)

    async with running(pipeline, gate):
        await until(lambda: scorer.calls == 1)
        revoking = asyncio.create_task(revoke())
        polls = consumer.polls
        await until(lambda: consumer.polls >= polls + 5)
        assert not revoking.done(), "drain returned while a batch was still in flight"
        gate.set()
        await asyncio.wait_for(revoking, 5)

    assert log.index(("drained",)) == 2
    assert log[:2] == [("write", [(0, 0), (0, 1)]), ("commit", {P0: 2})]
    # Nothing fetched while draining, and nothing committed for the partition once it was gone.
    assert consumer.commits == [{P0: 2}]
    assert len(consumer.pending[P0]) + len(store.events) == 6


async def test_retries_while_the_store_is_unavailable_then_writes_once_and_commits() -> None:
    log: Log = []
    consumer, store = FakeConsumer(log), FakeStore(log)
    store.down = True
    metrics = Metrics()
    consumer.add(*records(0, ["one", "two"]))
    pipeline = Pipeline(
        options(10, write_backoff_s=(0.001, 0.004)), consumer, FakeScorer(), store, detector=DETECTOR, metrics=metrics
    )
    async with running(pipeline):
        await until(lambda: store.offset_reads >= 3)
        assert not pipeline.health().store
        assert consumer.commits == []
        assert store.attempts == 1, "a batch from before the outage was written again"
        store.down = False
        await until(lambda: consumer.commits != [])

    assert pipeline.health().store
    assert consumer.commits == [{P0: 2}]
    assert len(store.events) == 2
    # Dropped, then sought back to where the database (which had nothing) says: Kafka's, else 0.
    assert ("seek", P0, 0) in log
    failures = metrics.registry.get_sample_value("monitor_db_write_failures_total")
    assert failures == 1 + store.offset_reads - 1  # the write, and every read but the last


async def test_gives_up_on_an_unwritable_batch_at_shutdown_without_committing_it() -> None:
    log: Log = []
    consumer, store = FakeConsumer(log), FakeStore(log)
    store.down = True
    consumer.add(*records(0, ["one", "two"]))
    pipeline = Pipeline(options(10, write_backoff_s=(0.001, 0.004)), consumer, FakeScorer(), store, detector=DETECTOR)
    with capture_logs() as logs:
        async with running(pipeline):
            await until(lambda: store.offset_reads >= 2)
        # Leaving the block stopped the pipeline and awaited `run`: it returned by itself.

    assert consumer.commits == []
    assert store.events == {}
    assert [e["log_level"] for e in logs if "giving up" in e["event"]] == ["error"]


async def test_a_refused_batch_is_written_row_by_row_and_the_refused_row_becomes_a_dead_letter() -> None:
    log: Log = []
    consumer, store = FakeConsumer(log), FakeStore(log)
    store.reject_text, store.alert_text = "poison", "fraud"
    metrics = Metrics()
    seen: list[CommittedBatch] = []
    consumer.add(*records(0, ["fine", "poison value", "fraud reported"]))
    pipeline = Pipeline(
        options(10), consumer, FakeScorer(), store, detector=DETECTOR, metrics=metrics, on_committed=seen.append
    )
    async with running(pipeline):
        await until(lambda: consumer.commits != [])

    assert consumer.commits == [{P0: 3}]
    assert sorted(store.events.values()) == [(0, 0), (0, 2)]
    assert list(store.dead) == [(TOPIC, 0, 1, 0)]
    assert "refused a value" in store.dead[(TOPIC, 0, 1, 0)]
    # The alert raised by a single-row write of the fallback is counted like any other.
    raised = metrics.registry.get_sample_value("monitor_alerts_raised_total", {"rule": "fake_rule", "severity": "high"})
    assert raised == 1
    [batch] = seen
    assert [r.offset for r in batch.records] == [0, 1, 2]
    assert [e.message.offset for e in batch.events] == [0, 2]
    assert [d.offset for d in batch.dead_letters] == [1]


async def test_no_commit_for_a_partition_no_longer_assigned() -> None:
    log: Log = []
    consumer, store = FakeConsumer(log, [P0, P1]), FakeStore(log)
    gate = threading.Event()
    seen: list[CommittedBatch] = []
    consumer.add(*records(0, ["a", "b"]), *records(1, ["c", "d"]))
    pipeline = Pipeline(options(10), consumer, FakeScorer(gate), store, detector=DETECTOR, on_committed=seen.append)
    async with running(pipeline, gate):
        await until(lambda: pipeline.scorer.calls == 1)  # type: ignore[attr-defined]
        consumer.assigned.discard(P1)  # revoked without a drain (the member was fenced)
        gate.set()
        await until(lambda: consumer.commits != [])

    assert consumer.commits == [{P0: 2}]
    assert len(store.events) == 4  # written (harmless: the new owner's replay inserts nothing)
    [batch] = seen
    assert {r.partition for r in batch.records} == {0}
    assert {e.message.partition for e in batch.events} == {0}


async def test_identifiers_masked_in_a_batch_are_counted_by_kind_and_only_the_kinds_set() -> None:
    log: Log = []
    consumer, store = FakeConsumer(log), FakeStore(log)
    metrics = Metrics()
    texts = ["card 4111 1111 1111 1111 and 5555 5555 5555 4444", "mail ann@example.com, SSN 123-45-6789", "calm"]
    consumer.add(*records(0, texts))
    chosen = replace(options(10), mask_kinds=frozenset({"card", "email"}))
    pipeline = Pipeline(chosen, consumer, FakeScorer(), store, detector=DETECTOR, metrics=metrics)
    async with running(pipeline):
        await until(lambda: consumer.commits != [])

    def masked(kind: str) -> float | None:
        return metrics.registry.get_sample_value("monitor_masked_total", {"kind": kind})

    assert (masked("card"), masked("email"), masked("us_ssn")) == (2, 1, None)
