"""What the log guard remembers of a log it later finds replaced (no servers)."""

from __future__ import annotations

from collections.abc import Mapping

from monitor.log_guard import LogGuard
from monitor.logwatch import LogCheck, LogState, Position
from monitor.metrics import Metrics
from monitor.records import Partition
from tests.fakes import FakeStore

P0 = Partition("news", 0)


class LaggingInspector:
    """A broker whose listed end lags the records it serves (Tansu 0.6's does), one record per offset."""

    def __init__(self, listed_end: int) -> None:
        self.listed_end = listed_end
        self.record_at: dict[int, str] = {}

    async def inspect(self, wanted: Mapping[Partition, int]) -> dict[Partition, LogState]:
        return {p: LogState(0, self.listed_end, self.record_at.get(at)) for p, at in wanted.items()}


async def test_the_old_logs_end_is_the_furthest_a_fetch_saw_when_the_listed_end_lags() -> None:
    broker = LaggingInspector(listed_end=100)
    broker.record_at[63] = "ours"
    guard = LogGuard(broker, FakeStore([]), Metrics())
    assert await guard.check({P0: Position(64, "ours")}, fetched_ends={P0: 750}) == LogCheck([])

    broker.record_at[127] = "another"  # the topic re-created and refilled past our position
    [change] = (await guard.check({P0: Position(128, "ours")}, fetched_ends={P0: 40})).changes
    assert change.lost == (128, 750), "what the old log held past our position, as its fetch showed it"


async def test_a_fetch_from_a_log_found_replaced_says_nothing_of_the_old_log() -> None:
    broker = LaggingInspector(listed_end=300)
    guard = LogGuard(broker, FakeStore([]), Metrics())
    [change] = (await guard.check({P0: Position(64, "ours")}, fetched_ends={P0: 900})).changes
    assert change.lost is None, "nothing was seen of the old log past our position"


class SilentInspector:
    """A broker that answers no log check in time."""

    async def inspect(self, wanted: Mapping[Partition, int]) -> dict[Partition, LogState]:
        return {}


async def test_a_check_the_broker_leaves_unanswered_is_undecided_never_a_pass() -> None:
    metrics = Metrics()
    guard = LogGuard(SilentInspector(), FakeStore([]), metrics)
    checked = await guard.check({P0: Position(64, "ours")})
    assert checked == LogCheck([], ("news/0",))
    assert metrics.kafka_log_unverified.labels("news")._value.get() == 1


async def test_a_check_overtaken_by_a_seek_records_nothing_and_one_taken_after_it_does() -> None:
    """A quiet partition's check and a batch's check both find the topic replaced; the first
    settled seeks away, and the other, begun before that seek, must not report the change again."""
    store = FakeStore([])
    broker = LaggingInspector(listed_end=300)
    broker.record_at[63] = "another"
    guard = LogGuard(broker, store, Metrics())
    first = await guard.check({P0: Position(64, "ours")})
    second = await guard.check({P0: Position(64, "ours")})
    assert first.changes and first.changes == second.changes

    assert await guard.settle(first)
    guard.sought({P0: Position(0, None, first.changes[0].incarnation)})
    assert not await guard.settle(second)
    assert len(store.log_changes) == 1

    broker.record_at[127] = "another still"  # replaced again, found by a check after the seek
    assert await guard.settle(await guard.check({P0: Position(128, "ours")}))
    assert len(store.log_changes) == 2
