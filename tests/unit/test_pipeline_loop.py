"""The consume -> score -> write -> commit loop against in-memory fakes of its three ports.

The fakes keep one shared log of what happened in what order ("write", "commit", ...), so each
test states an ordering or a count the loop must keep. Waits are bounded waits on conditions.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence, Set
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from structlog.testing import capture_logs

from monitor.batch import AlertEffects, CommittedBatch, RaisedAlert, WriteBatch, WriteResult
from monitor.config import Settings
from monitor.errors import RowsRejected, StoreDiverged, StoreUnavailable
from monitor.language import by_script
from monitor.logwatch import LogChange, Position
from monitor.metrics import Metrics
from monitor.pipeline import Pipeline
from monitor.records import Partition, Scores, SourceRecord, Stream

TOPIC = "news"
P0, P1 = Partition(TOPIC, 0), Partition(TOPIC, 1)
Log = list[tuple[Any, ...]]


def records(partition: int, texts: Sequence[str], first_offset: int = 0) -> list[SourceRecord]:
    return [
        SourceRecord(
            TOPIC,
            partition,
            first_offset + i,
            json.dumps({"id": f"n{partition}-{first_offset + i}", "headline": text}).encode(),
            datetime.now(UTC),
        )
        for i, text in enumerate(texts)
    ]


class FakeConsumer:
    """A broker in memory: per-partition logs and positions, pause/resume/seek honoured, commits logged."""

    def __init__(self, log: Log, partitions: Sequence[Partition] = (P0,)) -> None:
        self.log = log
        self.assigned = set(partitions)
        self.logs: dict[Partition, list[SourceRecord]] = defaultdict(list)
        self.position: dict[Partition, int] = defaultdict(int)
        """Index into `logs` (records here have offsets 0, 1, 2... so it is also the offset)."""
        self.paused: set[Partition] = set()
        self.commits: list[dict[Partition, int]] = []
        self.kafka_committed: dict[Partition, int] = {}
        self.polls = 0
        self.polls_while_paused = 0

    @property
    def pending(self) -> dict[Partition, deque[SourceRecord]]:
        """What the next fetches return, per partition."""
        out: dict[Partition, deque[SourceRecord]] = defaultdict(deque)
        for p, rs in self.logs.items():
            out[p].extend(rs[self.position[p] :])
        return out

    def add(self, *new: SourceRecord) -> None:
        for r in new:
            self.logs[Partition(r.topic, r.partition)].append(r)

    def assignment(self) -> Set[Partition]:
        return frozenset(self.assigned)

    def pause(self, *partitions: Partition) -> None:
        self.paused |= set(partitions)

    def resume(self, *partitions: Partition) -> None:
        self.paused -= set(partitions)

    async def getmany(self, *, timeout_ms: int, max_records: int) -> Mapping[Partition, Sequence[SourceRecord]]:
        self.polls += 1
        if self.paused:
            self.polls_while_paused += 1
        out: dict[Partition, list[SourceRecord]] = {}
        for p in sorted(self.assigned - self.paused):
            while self.position[p] < len(self.logs[p]) and sum(map(len, out.values())) < max_records:
                out.setdefault(p, []).append(self.logs[p][self.position[p]])
                self.position[p] += 1
        # A real poll waits up to timeout_ms for records; one that returns some yields at least.
        await asyncio.sleep(0 if out else timeout_ms / 1000)
        return out

    async def commit(self, offsets: Mapping[Partition, int]) -> None:
        await asyncio.sleep(0)  # a round trip to the coordinator
        self.log.append(("commit", dict(offsets)))
        self.commits.append(dict(offsets))
        self.kafka_committed.update(offsets)

    async def committed(self, partition: Partition) -> int | None:
        await asyncio.sleep(0)
        return self.kafka_committed.get(partition)

    def seek(self, partition: Partition, offset: int) -> None:
        self.log.append(("seek", partition, offset))
        self.position[partition] = offset

    def last_poll_timestamp(self, partition: Partition) -> int | None:
        return None

    def highwater(self, partition: Partition) -> int | None:
        return None


class FakeScorer:
    """Neutral for everything; `gate` (when given) holds every call until it is set."""

    model_version = "fake-1"
    languages = frozenset({"en"})

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.calls = 0
        self._lock = threading.Lock()
        self.hook: Callable[[int], None] | None = None
        """Called with the call's number (1 for the first) before it scores (in the worker thread)."""

    def score(self, texts: Sequence[str], streams: Sequence[Stream]) -> list[Scores]:
        with self._lock:
            self.calls += 1
            call = self.calls
        if self.hook is not None:
            self.hook(call)
        if self.gate is not None:
            assert self.gate.wait(10), "the test never opened the gate"
        return [Scores("neutral", 0.0, 0.9) for _ in texts]


class ScriptDetector:
    """English unless the script says otherwise (Han is Chinese): the language detector's fake."""

    def detect(self, text: str) -> str:
        return by_script(text) or "en"


DETECTOR = ScriptDetector()


class FakeStore:
    """Rows in dicts keyed like Postgres's natural keys; outages, refusals and failovers on demand."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.events: dict[tuple[str, str], tuple[int, int]] = {}
        self.dead: dict[tuple[str, int, int, int], str] = {}
        self.offsets: dict[Partition, int] = {}
        self.fingerprints: dict[Partition, str] = {}
        self.incarnations: dict[Partition, int] = {}
        self.log_changes: list[LogChange] = []
        self.offset_reads = 0
        self.down = False
        self.latency_s = 0.005
        self.attempts = 0
        self.reject_text: str | None = None
        """A write holding an event with this in its text is refused as a whole (RowsRejected)."""
        self.alert_text: str | None = None
        """A new event with this in its text raises an alert in its write."""

    async def write(self, batch: WriteBatch) -> WriteResult:
        self.attempts += 1
        await asyncio.sleep(self.latency_s)  # a round trip: the fetch loop runs meanwhile
        if self.down:
            raise StoreUnavailable("Postgres unavailable: ConnectionRefusedError")
        if self.reject_text and any(self.reject_text in e.message.text for e in batch.events):
            raise RowsRejected("Postgres refused a value: out of range")
        behind = [p for p, want in batch.expected_offsets.items() if self.offsets.get(p, -1) < want]
        if behind:
            raise StoreDiverged(f"the database holds older offsets than were written to it ({behind})")
        for p, offset in batch.offsets.items():
            if offset >= self.offsets.get(p, 0) and p in batch.fingerprints:
                self.fingerprints[p] = batch.fingerprints[p]
            self.offsets[p] = max(offset, self.offsets.get(p, 0))
        inserted: dict[tuple[str, str], int] = {}
        raised: list[RaisedAlert] = []
        for e in batch.events:
            key = (e.message.stream, e.message.message_id)
            if key not in self.events:
                self.events[key] = (e.message.partition, e.message.offset)
                inserted[key] = len(self.events)
                if self.alert_text and self.alert_text in e.message.text:
                    raised.append(_alert(e.message.message_id))
        fresh = 0
        for d in batch.dead_letters:
            if (d.topic, d.partition, d.offset, d.incarnation) not in self.dead:
                self.dead[(d.topic, d.partition, d.offset, d.incarnation)] = d.reason
                fresh += 1
        written = [(e.message.partition, e.message.offset) for e in batch.events]
        self.log.append(("write", written + [(d.partition, d.offset) for d in batch.dead_letters]))
        return WriteResult(inserted, fresh, AlertEffects(tuple(raised)))

    async def stored_offsets(self, partitions: Collection[Partition]) -> dict[Partition, int]:
        return {p: position.next_offset for p, position in (await self.stored_positions(partitions)).items()}

    async def stored_positions(self, partitions: Collection[Partition]) -> dict[Partition, Position]:
        self.offset_reads += 1
        await asyncio.sleep(self.latency_s)
        if self.down:
            raise StoreUnavailable("Postgres unavailable: ConnectionRefusedError")
        return {
            p: Position(o, self.fingerprints.get(p), self.incarnations.get(p, 0))
            for p, o in self.offsets.items()
            if p in partitions
        }

    async def record_log_change(self, change: LogChange) -> None:
        await asyncio.sleep(self.latency_s)
        if self.down:
            raise StoreUnavailable("Postgres unavailable: ConnectionRefusedError")
        partition = Partition(change.topic, change.partition)
        self.log_changes.append(change)
        self.offsets[partition] = change.resume_at
        self.fingerprints.pop(partition, None)
        self.incarnations[partition] = change.incarnation

    async def ping(self) -> bool:
        return not self.down

    def snapshot(self) -> tuple[dict[Any, Any], ...]:
        """The database as a standby would have it now."""
        return dict(self.events), dict(self.dead), dict(self.offsets)

    def fail_over_to(self, standby: tuple[dict[Any, Any], ...]) -> None:
        """The primary is gone: from now on the database is `standby`, which lost what came after it."""
        events, dead, offsets = standby
        self.events, self.dead, self.offsets = dict(events), dict(dead), dict(offsets)


def _alert(entity: str) -> RaisedAlert:
    return RaisedAlert(uuid.uuid4(), "fake_rule", "high", entity, 1)


def settings(max_poll_records: int) -> Settings:
    return Settings(
        news_topics=(TOPIC,), customer_topics=("cust",), poll_timeout_ms=2, max_poll_records=max_poll_records
    )


async def until(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    """Wait (bounded) until `condition` holds."""
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - polls state that threads and tasks change
            await asyncio.sleep(0.001)


@asynccontextmanager
async def running(pipeline: Pipeline, gate: threading.Event | None = None) -> AsyncIterator[asyncio.Event]:
    """The pipeline runs for the block; then stop, and its `run` must return."""
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        if gate is not None:
            gate.set()  # never leave a worker thread blocked behind a failed assertion
        await asyncio.wait_for(task, 10)


def committed_through(consumer: FakeConsumer, partition: Partition) -> int:
    return max((c[partition] for c in consumer.commits if partition in c), default=0)


def assert_each_commit_follows_its_writes(log: Log) -> None:
    written: set[tuple[int, int]] = set()
    for entry in log:
        if entry[0] == "write":
            written |= set(entry[1])
        elif entry[0] == "commit":
            for p, next_offset in entry[1].items():
                missing = {(p.partition, o) for o in range(next_offset)} - written
                assert not missing, f"committed {p} up to {next_offset} before writing {sorted(missing)}"


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
    pipeline = Pipeline(settings(2), consumer, scorer, store, detector=DETECTOR, workers=2)
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
    pipeline = Pipeline(settings(2), consumer, scorer, store, detector=DETECTOR, workers=1)
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
    pipeline = Pipeline(settings(2), consumer, scorer, store, detector=DETECTOR, workers=1)

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
        settings(10), consumer, FakeScorer(), store, detector=DETECTOR, write_backoff_s=(0.001, 0.004), metrics=metrics
    )
    async with running(pipeline):
        await until(lambda: store.offset_reads >= 3)
        assert not pipeline.store_healthy
        assert consumer.commits == []
        assert store.attempts == 1, "a batch from before the outage was written again"
        store.down = False
        await until(lambda: consumer.commits != [])

    assert pipeline.store_healthy
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
    pipeline = Pipeline(settings(10), consumer, FakeScorer(), store, detector=DETECTOR, write_backoff_s=(0.001, 0.004))
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
        settings(10), consumer, FakeScorer(), store, detector=DETECTOR, metrics=metrics, on_committed=seen.append
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
    pipeline = Pipeline(settings(10), consumer, FakeScorer(gate), store, detector=DETECTOR, on_committed=seen.append)
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
    chosen = settings(10).model_copy(update={"mask_kinds": frozenset({"card", "email"})})
    pipeline = Pipeline(chosen, consumer, FakeScorer(), store, detector=DETECTOR, metrics=metrics)
    async with running(pipeline):
        await until(lambda: consumer.commits != [])

    def masked(kind: str) -> float | None:
        return metrics.registry.get_sample_value("monitor_masked_total", {"kind": kind})

    assert (masked("card"), masked("email"), masked("us_ssn")) == (2, 1, None)
