"""Which daily partitions of scored_events to create and drop: pure planning, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from monitor.db.partitions import partition_day, partition_name, plan_partitions

NOW = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)
TODAY = date(2026, 11, 25)


def days(first: date, count: int) -> tuple[date, ...]:
    return tuple(first + timedelta(days=n) for n in range(count))


def test_names_round_trip_and_other_tables_are_not_partitions() -> None:
    assert partition_name(TODAY) == "scored_events_p20261125"
    assert partition_day("scored_events_p20261125") == TODAY
    assert partition_day("scored_events_default") is None
    assert partition_day("scored_events_p2026112") is None


def test_first_run_creates_today_and_the_week_ahead_and_keeps_everything() -> None:
    plan = plan_partitions(NOW, existing=(), days_in_default=(), retention_days=0)
    assert plan.create == days(TODAY, 8)
    assert plan.drop == ()
    assert plan.cutoff is None


def test_later_run_creates_only_the_missing_day() -> None:
    plan = plan_partitions(NOW + timedelta(days=1), existing=days(TODAY, 8), days_in_default=(), retention_days=0)
    assert plan.create == (TODAY + timedelta(days=8),)


def test_recent_days_found_in_the_default_partition_get_their_own() -> None:
    yesterday, last_month, last_year = TODAY - timedelta(days=1), TODAY - timedelta(days=31), date(2025, 1, 2)
    far_future = TODAY + timedelta(days=30)
    plan = plan_partitions(
        NOW,
        existing=days(TODAY, 8),
        days_in_default=(yesterday, last_month, last_year, far_future),
        retention_days=0,
    )
    assert plan.create == (last_month, yesterday)


def test_retention_drops_whole_days_older_than_the_cutoff_only() -> None:
    existing = days(TODAY - timedelta(days=10), 18)
    plan = plan_partitions(NOW, existing=existing, days_in_default=(), retention_days=7)
    assert plan.cutoff == NOW - timedelta(days=7)
    # 2026-11-18 still holds rows newer than the cutoff (16:30 that day): it stays.
    assert plan.drop == days(TODAY - timedelta(days=10), 3)
    assert plan.create == ()


def test_days_past_the_retention_are_never_created() -> None:
    old = TODAY - timedelta(days=20)
    plan = plan_partitions(NOW, existing=days(TODAY, 8), days_in_default=(old,), retention_days=7)
    assert plan.create == ()
