"""The explaining budget and the load it yields to: pure decisions, a fake clock, no sleeps."""

from __future__ import annotations

import threading

from monitor.alerts.budget import URGENT_WAIT_SHARE, BudgetPolicy, ExplainBudget, is_urgent, urgent_wait_s
from monitor.load import IDLE_AFTER_S, Load, load_of
from monitor.pipeline import Pipeline
from tests.fakes import DETECTOR, P0, FakeConsumer, FakeScorer, FakeStore, Log, options, records, running
from tests.waiting import until


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def budget(share: float = 0.1, window_s: float = 60.0) -> tuple[ExplainBudget, Clock]:
    clock = Clock()
    return ExplainBudget(BudgetPolicy(share, window_s), clock), clock


def test_urgent_means_critical_or_high() -> None:
    assert is_urgent("critical") and is_urgent("high")
    assert not is_urgent("medium") and not is_urgent("low") and not is_urgent(None)


def test_urgent_alerts_are_explained_at_once_unless_a_backlog_drains_then_within_their_bound() -> None:
    assert urgent_wait_s(Load.LIVE, 30.0) == urgent_wait_s(Load.IDLE, 30.0) == 0.0
    assert urgent_wait_s(Load.BACKLOG, 30.0) == URGENT_WAIT_SHARE * 30.0
    assert 0 < URGENT_WAIT_SHARE < 1, "time left to explain before the bound"


def test_routine_explaining_never_competes_with_a_backlog() -> None:
    b, _ = budget()
    assert b.left_s() == 6.0  # nothing spent: the whole allowance is there
    assert not b.routine_allowed(Load.BACKLOG)
    assert b.routine_allowed(Load.LIVE)


def test_a_live_stream_leaves_routine_explaining_its_share_of_the_window() -> None:
    b, clock = budget(share=0.1, window_s=60.0)
    b.spend(4.0)
    assert b.spent_s() == 4.0 and b.routine_allowed(Load.LIVE)
    clock.now += 10
    b.spend(2.0)  # 6 s of the minute's 6 s allowance
    assert b.left_s() == 0.0
    assert not b.routine_allowed(Load.LIVE)
    assert b.routine_allowed(Load.IDLE)  # idle time is free


def test_spending_slides_out_of_the_window() -> None:
    b, clock = budget(share=0.1, window_s=60.0)
    b.spend(6.0)  # ran from 994 to 1000
    clock.now += 57.0  # the window starts at 997: half of that call is still inside it
    assert b.spent_s() == 3.0 and b.routine_allowed(Load.LIVE)
    clock.now += 3.0
    assert b.spent_s() == 0.0 and b.left_s() == 6.0


def test_a_zero_budget_leaves_routine_explaining_idle_time_only() -> None:
    b, _ = budget(share=0.0)
    assert not b.routine_allowed(Load.LIVE)
    assert b.routine_allowed(Load.IDLE)


def test_urgent_spending_uses_up_the_routine_allowance() -> None:
    """Every explaining second counts, whoever it was for: after a fraud storm routine waits."""
    b, _ = budget()
    b.spend(30.0)
    assert b.left_s() < 0 and not b.routine_allowed(Load.LIVE)


def test_load_from_what_the_pipeline_knows() -> None:
    def load(**kw: object) -> Load:
        given = {"lag": 0, "full_poll": False, "in_flight": 0, "quiet_s": 0.0, "poll_records": 512} | kw
        return load_of(**given)  # type: ignore[arg-type]

    assert load(lag=512) is Load.BACKLOG  # a whole poll waits behind the last commit
    assert load(full_poll=True, lag=0) is Load.BACKLOG  # the poll was full: more waits
    assert load(lag=40, in_flight=1) is Load.LIVE  # a live stream's usual lag
    assert load(quiet_s=IDLE_AFTER_S / 2) is Load.LIVE  # a gap between batches is no idleness
    assert load(quiet_s=IDLE_AFTER_S) is Load.IDLE
    assert load(quiet_s=IDLE_AFTER_S, in_flight=1) is Load.LIVE


async def test_the_pipeline_reports_a_backlog_while_full_polls_wait_then_not() -> None:
    log: Log = []
    consumer, store = FakeConsumer(log), FakeStore(log)
    gate = threading.Event()
    consumer.add(*records(0, [f"headline {i}" for i in range(10)]))
    pipeline = Pipeline(options(max_poll_records=4), consumer, FakeScorer(gate), store, detector=DETECTOR)
    async with running(pipeline, gate):
        await until(lambda: consumer.position[P0] >= 4)
        assert pipeline.load() is Load.BACKLOG
        gate.set()
        await until(lambda: len(store.events) == 10 and pipeline._in_flight == 0)
        await until(lambda: pipeline.load() is not Load.BACKLOG)  # the last poll was partial, then empty
