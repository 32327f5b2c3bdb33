"""`LogInspector` against a broker that lists a lagging end and answers late (a fake aiokafka
consumer: Tansu lags only now and then, under load, which a test cannot order).

Found in CI: a restarted replica asked for the record before its stored position while the
broker's listed end lagged below it and its fetches were slow; the record counted as absent, the
log as truncated, and the partition was read again from its start in a new incarnation (800 rows
written twice). A record is absent only when a fetch answered that the log ends before it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from types import SimpleNamespace

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import OffsetOutOfRangeError

from monitor import kafka
from monitor.kafka import LogInspector
from monitor.logwatch import Kind, Position, fingerprint, judge
from monitor.records import Partition

P0 = Partition("news", 0)
TP = TopicPartition("news", 0)


class SlowBroker:
    """One partition of `records` records; ListOffsets says `listed_end`; fetches answer only after
    `answer_after_s` (before that, no answer at all: no high watermark, no records)."""

    def __init__(self, records: int, listed_end: int, answer_after_s: float) -> None:
        self.records = records
        self.listed_end = listed_end
        self.answer_at = time.monotonic() + answer_after_s
        self.position = 0
        self._highwater: int | None = None
        self._stamp: int | None = None
        self.paused: set[TopicPartition] = set()

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def assign(self, tps: Sequence[TopicPartition]) -> None: ...

    def pause(self, *tps: TopicPartition) -> None:
        self.paused.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self.paused.difference_update(tps)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.position = offset

    async def beginning_offsets(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(tps, 0)

    async def end_offsets(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(tps, self.listed_end)

    async def getmany(self, *tps: TopicPartition, timeout_ms: int, max_records: int) -> dict[TopicPartition, list]:
        if time.monotonic() < self.answer_at or TP in self.paused:
            await asyncio.sleep(0.01)  # as aiokafka's, the call waits (a little) for an answer
            return {}
        self._highwater, self._stamp = self.records, time.monotonic_ns()
        if self.position >= self.records:
            return {}
        return {TP: [record(self.position)]}

    def highwater(self, tp: TopicPartition) -> int | None:
        return self._highwater

    def last_poll_timestamp(self, tp: TopicPartition) -> int | None:
        return self._stamp


def record(offset: int) -> SimpleNamespace:
    return SimpleNamespace(topic="news", partition=0, offset=offset, value=b"v%d" % offset, timestamp=1, headers=())


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka, "BEYOND_END_WAIT_S", 0.05)
    monkeypatch.setattr(kafka, "INSPECT_TIMEOUT_S", 0.5)


async def test_a_record_past_a_lagging_listed_end_that_comes_late_is_found_not_judged_absent() -> None:
    broker = SlowBroker(records=100, listed_end=50, answer_after_s=0.2)
    states = await LogInspector(broker).inspect({P0: 79})  # type: ignore[arg-type]
    ours = fingerprint(kafka.to_source_record(record(79)))  # type: ignore[arg-type]
    assert states[P0].found == ours and states[P0].end == 100
    assert judge("news", 0, Position(80, ours), states[P0]) is None


async def test_a_broker_that_never_answers_leaves_the_check_undecided() -> None:
    broker = SlowBroker(records=100, listed_end=50, answer_after_s=60)
    assert await LogInspector(broker).inspect({P0: 79}) == {}  # type: ignore[arg-type]


async def test_a_log_the_broker_says_ends_before_the_offset_is_truncated() -> None:
    broker = SlowBroker(records=30, listed_end=30, answer_after_s=0.0)
    states = await LogInspector(broker).inspect({P0: 79})  # type: ignore[arg-type]
    assert (states[P0].found, states[P0].end) == (None, 30)
    change = judge("news", 0, Position(80, "ours"), states[P0])
    assert change is not None and change.kind is Kind.TRUNCATED


class OutOfRangeBroker(SlowBroker):
    """A broker whose log ends before the asked offset and says so (OFFSET_OUT_OF_RANGE), while its
    listed end still lags above it."""

    async def getmany(self, *tps: TopicPartition, timeout_ms: int, max_records: int) -> dict[TopicPartition, list]:
        if TP in self.paused:
            return {}
        raise OffsetOutOfRangeError({TP: self.position})


async def test_an_offset_the_broker_says_is_out_of_range_is_absent_at_once() -> None:
    broker = OutOfRangeBroker(records=30, listed_end=90, answer_after_s=0.0)
    states = await LogInspector(broker).inspect({P0: 79})  # type: ignore[arg-type]
    assert (states[P0].found, states[P0].end) == (None, 79)
    change = judge("news", 0, Position(80, "ours"), states[P0])
    assert change is not None and change.kind is Kind.TRUNCATED
