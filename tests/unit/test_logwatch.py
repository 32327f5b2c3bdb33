"""Judging a partition's log against the position we read it to (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.logwatch import Kind, LogState, Position, fingerprint, judge
from monitor.records import SourceRecord

WHEN = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def record(offset: int, value: bytes, when: datetime = WHEN) -> SourceRecord:
    return SourceRecord("news", 0, offset, value, when)


def test_a_fingerprint_names_the_record_not_its_place() -> None:
    assert fingerprint(record(5, b"a")) == fingerprint(record(9, b"a"))
    assert fingerprint(record(5, b"a")) != fingerprint(record(5, b"b"))
    assert fingerprint(record(5, b"a")) != fingerprint(record(5, b"a", WHEN.replace(second=1)))
    assert fingerprint(SourceRecord("news", 0, 5, None)) != fingerprint(SourceRecord("news", 0, 5, b""))


def test_the_log_we_read_is_no_change() -> None:
    at = Position(500, "f499")
    assert judge("news", 0, at, LogState(0, 700, "f499")) is None
    assert judge("news", 0, at, LogState(500, 500, None)) is None, "retention took what we had read: fine"
    assert judge("news", 0, Position(0, None), LogState(120, 300, None)) is None, "0 is 'from the start'"


def test_another_record_where_ours_was_is_a_replaced_log_read_from_its_start_in_a_new_incarnation() -> None:
    change = judge("news", 1, Position(500, "f499", 2), LogState(0, 700, "other"), old_end=650)
    assert change is not None
    assert (change.kind, change.resume_at, change.incarnation) == (Kind.REPLACED, 0, 3)
    assert change.lost == (500, 650) and change.lost_count == 150, "what the old log held past our position"


def test_a_log_that_ends_before_our_position_is_truncated() -> None:
    change = judge("news", 0, Position(500, "f499"), LogState(0, 200, "x"))
    assert change is not None
    assert (change.kind, change.resume_at, change.incarnation, change.lost) == (Kind.TRUNCATED, 0, 1, None)


def test_latest_policy_reads_the_new_log_from_its_end_and_reports_what_it_skips() -> None:
    change = judge("news", 0, Position(500, "f499"), LogState(0, 700, "other"), policy="latest")
    assert change is not None
    assert (change.resume_at, change.lost, change.incarnation) == (700, (0, 700), 1)
    assert "skipped" in change.action


def test_records_deleted_before_they_were_read_are_an_expired_range() -> None:
    change = judge("news", 0, Position(500, "f499", 1), LogState(800, 900, None))
    assert change is not None
    assert (change.kind, change.lost, change.lost_count) == (Kind.EXPIRED, (500, 800), 300)
    assert (change.resume_at, change.incarnation) == (800, 1), "the same log, read on from its start"
    assert change.as_json()["lost_from"] == 500 and change.as_json()["lost_to"] == 800
